/**
 * The `paprec` command line: one yargs command module per file in this folder.
 * Bad input ends with the error's message (no stack) and exit code 1; a wrong flag with yargs' usage and code 1.
 */
import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { PaprecError } from '../errors.js';
import { infoCommand } from './info.js';
import { tokenizerCommand } from './tokenizer.js';
import { dataCommand } from './data.js';
import { prepareCommand } from './prepare.js';
import { searchCommand } from './search.js';
import { pretrainCommand } from './pretrain.js';
import { evalCommand } from './eval.js';
import { reportCommand } from './report.js';
import { demoCommand } from './demo.js';
import { recommendCommand } from './recommend.js';
import { serveCommand } from './serve.js';
import { softPromptCommand } from './softPrompt.js';
import { launchCommand } from './launch.js';

const COMMANDS: CommandModule<any, any>[] = [
  infoCommand, tokenizerCommand, dataCommand, prepareCommand, pretrainCommand, evalCommand, searchCommand, reportCommand, demoCommand, recommendCommand, serveCommand, softPromptCommand, launchCommand,
];

function report(err: unknown): never {
  if (err instanceof PaprecError) {
    process.stderr.write(`paprec: ${err.message}\n`);
  } else if (err instanceof Error) {
    // Native errors carry a message a user can act on; anything else is a bug: show where.
    process.stderr.write(`paprec: ${err.message}\n`);
    if (process.env.PAPREC_DEBUG) process.stderr.write(`${err.stack}\n`);
  } else {
    process.stderr.write(`paprec: ${String(err)}\n`);
  }
  process.exit(1);
}

/**
 * What yargs lets through: an option given twice becomes an array (every option here takes one value), and a
 * number option given a word becomes NaN. Both are refused naming the flag and what was given.
 */
function checkParsedOptions(args: Record<string, unknown>, argv: string[]): void {
  for (const [key, value] of Object.entries(args)) {
    if (key === '_' || key === '--' || key === '$0' || /[A-Z]/.test(key)) continue; // camelCase aliases repeat the dashed keys; '--' is launch's command
    const flag = key.length === 1 ? `-${key}` : `--${key}`;
    if (Array.isArray(value)) {
      throw new PaprecError(`${flag} was given ${value.length} times (${value.map((v) => JSON.stringify(v)).join(', ')}); give it once`);
    }
    if (typeof value === 'number' && Number.isNaN(value)) {
      const at = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
      const raw = at < 0 ? undefined : argv[at]!.includes('=') ? argv[at]!.slice(argv[at]!.indexOf('=') + 1) : argv[at + 1];
      throw new PaprecError(`${flag} expects a number, got ${raw === undefined ? 'no value' : JSON.stringify(raw)}`);
    }
  }
}

export async function main(argv = hideBin(process.argv)): Promise<void> {
  let cli = yargs(argv)
    .scriptName('paprec')
    .usage('$0 <command> [options]\n\nPAP-REC prompt search for P5 recommendation models.')
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((msg, err) => {
      if (err) report(err);
      process.stderr.write(`paprec: ${msg}\nRun \`paprec --help\` for usage.\n`);
      process.exit(1);
    });
  cli = cli.middleware((args) => checkParsedOptions(args, argv), true);
  for (const command of COMMANDS) cli = cli.command(command);
  try {
    await cli.parseAsync();
  } catch (err) {
    report(err);
  }
}
