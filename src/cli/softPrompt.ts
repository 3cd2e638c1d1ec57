/**
 * `paprec soft-prompt`: train the continuous prompt baseline and write soft.json (src/baselines/softPrompt.ts);
 * `paprec eval --prompt soft.json` evaluates it, `--prompt soft.json#projected` its nearest-token projection.
 */
import type { Argv, CommandModule } from 'yargs';
import type { Task } from '../types.js';
import { TASKS } from '../types.js';
import type { Placement } from '../prompts/types.js';
import { runSoftPrompt } from '../baselines/softPrompt.js';

interface SoftPromptArgs {
  data: string;
  model: string;
  tokenizer: string;
  task: Task;
  length: number;
  placement: Placement;
  steps: number;
  lr: number;
  'batch-size': number;
  seed?: number;
  'max-users'?: number;
  device: string;
  streams?: number;
  out: string;
}

export const softPromptCommand: CommandModule<object, SoftPromptArgs> = {
  command: 'soft-prompt',
  describe: 'Train the continuous (soft) prompt baseline on the training split and project it to tokens',
  builder: (y: Argv) =>
    y
      .option('data', { type: 'string', demandOption: true, describe: 'P5 data folder' })
      .option('model', { type: 'string', demandOption: true, describe: 'checkpoint (HF folder, .safetensors or P5 .pth)' })
      .option('tokenizer', { type: 'string', demandOption: true, describe: 'tokenizer.json or spiece.model' })
      .option('task', { choices: TASKS, demandOption: true, describe: 'the P5 task' })
      .option('length', { type: 'number', default: 5, describe: 'task slots l' })
      .option('placement', { choices: ['suffix', 'prefix'] as const, default: 'suffix' as Placement })
      .option('steps', { type: 'number', default: 600, describe: 'Adam steps' })
      .option('lr', { type: 'number', default: 0.1, describe: "Adam's learning rate" })
      .option('batch-size', { type: 'number', default: 32, describe: 'examples per step' })
      .option('seed', { type: 'number', describe: 'mini-batch and rendering seed (default: the dataset seed)' })
      .option('max-users', { type: 'number', describe: 'only users 1..N (quick runs)' })
      .option('device', { type: 'string', default: 'auto', describe: 'cpu | cuda | cuda:N | auto' })
      .option('streams', { type: 'number', describe: 'engine shards / CUDA streams' })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'the soft prompt file to write (soft.json)' }) as unknown as Argv<SoftPromptArgs>,
  handler: async (args) => {
    await runSoftPrompt(
      {
        data: args.data,
        model: args.model,
        tokenizer: args.tokenizer,
        task: args.task,
        out: args.out,
        length: args.length,
        placement: args.placement,
        steps: args.steps,
        lr: args.lr,
        batchSize: args['batch-size'],
        device: args.device,
        ...(args.seed !== undefined ? { seed: args.seed } : {}),
        ...(args['max-users'] !== undefined ? { maxUsers: args['max-users'] } : {}),
        ...(args.streams !== undefined ? { streams: args.streams } : {}),
      },
      (l) => process.stderr.write(`${l}\n`),
    );
    process.stderr.write(`wrote ${args.out}\n`);
  },
};
