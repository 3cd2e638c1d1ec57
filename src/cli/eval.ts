/**
 * `paprec eval`: the paper's test table for one prompt (a manual P5 baseline or a searched prompt file), mean and
 * standard deviation over runs that differ only in the seed of the example rendering (history joiners). The work is
 * `runEval` (src/protocol/eval.ts); this file maps flags to its options. Progress on stderr; Ctrl-C stops after the
 * run in flight and reports the finished runs.
 */
import type { Argv, CommandModule } from 'yargs';
import { withGroup } from '../dist/join.js';
import type { Split, Task } from '../types.js';
import { TASKS } from '../types.js';
import { formatEvalTable, MAX_LENGTH, runEval, TEST_BEAMS } from '../protocol/index.js';
import { dtypeOption, type CliDtype } from './dtype.js';

interface EvalArgs {
  data: string;
  model: string;
  tokenizer: string;
  task: Task;
  prompt: string;
  split: Split;
  runs: number;
  beams: number;
  'max-length': number;
  'max-users'?: number;
  device: string;
  dtype: CliDtype;
  baseline?: 'popular';
  seed?: number;
  'batch-size'?: number;
  streams?: number;
  json?: string;
  constrained: boolean;
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: "Evaluate a prompt on the test (or validation) split: the paper's table, mean ± std over runs",
  builder: (y: Argv) =>
    y
      .option('data', { type: 'string', demandOption: true, describe: 'P5 data folder' })
      .option('model', { type: 'string', demandOption: true, describe: 'checkpoint (HF folder, .safetensors or P5 .pth)' })
      .option('tokenizer', { type: 'string', demandOption: true, describe: 'tokenizer.json or spiece.model' })
      .option('task', { choices: TASKS, demandOption: true, describe: 'the P5 task' })
      .option('prompt', { type: 'string', demandOption: true, describe: 'seen | unseen (P5 prompts) | a prompt JSON file[#N] | soft.json[#projected] (paprec soft-prompt)' })
      .option('split', { choices: ['val', 'test'] as const, default: 'test' as Split })
      .option('runs', { type: 'number', default: 5, describe: 'runs with different rendering seeds' })
      .option('beams', { type: 'number', default: TEST_BEAMS, describe: 'beam width (top-10 outputs are ranked)' })
      .option('max-length', { type: 'number', default: MAX_LENGTH, describe: 'generation length incl. the start token' })
      .option('max-users', { type: 'number', describe: 'only users 1..N (quick runs)' })
      .option('device', { type: 'string', default: 'auto', describe: 'cpu | cuda | cuda:N | auto' })
      .option('dtype', dtypeOption)
      .option('baseline', { choices: ['popular'] as const, describe: 'also rank by training popularity' })
      .option('seed', { type: 'number', describe: 'base rendering seed (default: the dataset seed)' })
      .option('batch-size', { type: 'number', describe: 'examples per engine batch (default 32)' })
      .option('streams', { type: 'number', describe: 'engine shards / CUDA streams' })
      .option('json', { type: 'string', describe: 'write the report as JSON to this file' })
      .option('constrained', { type: 'boolean', default: false, describe: 'also decode constrained to valid items; both rows side by side' }) as unknown as Argv<EvalArgs>,
  handler: async (args) => {
    let stop = false;
    const onSigint = () => {
      if (stop) process.exit(130); // second Ctrl-C: leave now
      stop = true;
      process.stderr.write('\npaprec eval: stopping after the run in flight (Ctrl-C again to quit now)\n');
    };
    process.on('SIGINT', onSigint);
    try {
      // Distributed (RANK / WORLD_SIZE set): each rank decodes its users' rows; rank 0 prints and writes --json.
      await withGroup(args.device, async (group) => runEval(
        {
          data: args.data,
          model: args.model,
          tokenizer: args.tokenizer,
          task: args.task,
          prompt: args.prompt,
          split: args.split,
          runs: args.runs,
          beams: args.beams,
          maxLength: args['max-length'],
          device: args.device,
          dtype: args.dtype,
          ...(args['max-users'] !== undefined ? { maxUsers: args['max-users'] } : {}),
          ...(args.baseline ? { baseline: args.baseline } : {}),
          ...(args.seed !== undefined ? { seed: args.seed } : {}),
          ...(args['batch-size'] !== undefined ? { batchSize: args['batch-size'] } : {}),
          ...(args.streams !== undefined ? { streams: args.streams } : {}),
          ...(args.json ? { json: args.json } : {}),
          ...(args.constrained ? { constrained: true } : {}),
          ...(group ? { group } : {}),
        },
        {
          progress: (l) => (!group || group.isRoot) && process.stderr.write(`${l}\n`),
          shouldStop: group ? () => group.any(stop) : () => stop,
          report: (r) => (!group || group.isRoot) && process.stdout.write(formatEvalTable(r) + '\n'),
        },
      ));
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};
