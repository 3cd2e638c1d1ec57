// The tiny world the end-to-end process tests run `paprec` in: a demo data folder, a random search model (128
// whole-word ids), a pretrain config folder (the default 512: matching prompts are long) and `cli.mts`, which runs
// src/cli/main.ts under tsx.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { Backbone } from '../../src/backbone/index.js';

export interface CliWorld {
  data: string;
  tokenizer: string;
  /** The search model folder. */
  model: string;
  /** A model folder whose config.json pretrain takes. */
  preModel: string;
  /** The script that runs `paprec ARGV`: `node --import tsx CLI ARGV`. */
  cli: string;
}

export async function writeCliWorld(tmp: string, root: string): Promise<CliWorld> {
  const demo = await writeDemoData(tmp, { seed: 4, users: 40, items: 140, minLength: 5, maxLength: 8 });
  const tok = await loadTokenizer(demo.tokenizerPath);
  const dims = { vocabSize: tok.vocabSize, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2 };
  const model = path.join(tmp, 'model');
  const b = await Backbone.create({ ...dims, numDecoderLayers: 2, wholeWordSize: 128 }, { seed: 2 });
  await b.save(model);
  b.dispose();
  const preModel = path.join(tmp, 'pre-model');
  const p = await Backbone.create(dims, { seed: 2 });
  await p.save(preModel);
  p.dispose();
  const cli = path.join(tmp, 'cli.mts');
  writeFileSync(cli, `import { main } from ${JSON.stringify(path.join(root, 'src/cli/main.ts'))};\nawait main(process.argv.slice(2));\n`);
  return { data: demo.dataDir, tokenizer: demo.tokenizerPath, model, preModel, cli };
}
