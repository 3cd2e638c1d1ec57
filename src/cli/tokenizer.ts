import type { Argv, CommandModule } from 'yargs';
import { convertSentencePiece } from '../tokenizer/convert.js';
import { writeFileAtomic } from '../util/fs.js';

interface ConvertArgs {
  model: string;
  out: string;
}

/** `paprec tokenizer convert <spiece.model> -o <tokenizer.json>` */
export const tokenizerConvertCommand: CommandModule<object, ConvertArgs> = {
  command: 'convert <model>',
  describe: 'Convert a SentencePiece model (T5 spiece.model) into an HF tokenizer.json',
  builder: (y: Argv) =>
    y
      .positional('model', { type: 'string', demandOption: true, describe: 'SentencePiece .model file' })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'tokenizer.json to write' }) as Argv<ConvertArgs>,
  handler: async (args) => {
    const t0 = performance.now();
    const text = await convertSentencePiece(args.model);
    await writeFileAtomic(args.out, text);
    const vocab = (JSON.parse(text) as { model: { vocab: unknown[] } }).model.vocab.length;
    const ms = performance.now() - t0;
    console.log(`wrote ${args.out}: vocab ${vocab}, ${(ms / 1000).toFixed(2)} s`);
  },
};

/** `paprec tokenizer <subcommand>` */
export const tokenizerCommand: CommandModule = {
  command: 'tokenizer <command>',
  describe: 'Tokenizer tools',
  builder: (y: Argv) => y.command(tokenizerConvertCommand as unknown as CommandModule).demandCommand(1),
  handler: () => {},
};
