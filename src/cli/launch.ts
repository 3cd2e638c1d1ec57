import type { Argv, CommandModule } from 'yargs';
import { launch } from '../dist/launch.js';

interface LaunchArgs {
  nproc: number;
  nnodes: number;
  'node-rank': number;
  'master-addr': string;
  'master-port': number;
  grace: number;
  _: (string | number)[];
  '--'?: (string | number)[];
}

/** The commands of this CLI that `launch` runs with this paprec (anything else is a program on the PATH). */
export const PAPREC_COMMANDS = ['search', 'eval', 'pretrain', 'recommend', 'info', 'demo', 'soft-prompt', 'report', 'serve'] as const;

/** `paprec launch --nproc N [--nnodes M --node-rank R --master-addr A --master-port P] -- <command>`. */
export const launchCommand: CommandModule<object, LaunchArgs> = {
  command: 'launch',
  describe: 'Start N local workers of a command with the torchrun environment (RANK, WORLD_SIZE, ...): paprec launch --nproc 2 -- search ...',
  builder: (y: Argv) =>
    y
      .parserConfiguration({ 'populate--': true })
      .option('nproc', { type: 'number', demandOption: true, describe: 'workers on this node (one per GPU; on CPU the cores are split)' })
      .option('nnodes', { type: 'number', default: 1, describe: 'nodes in the run' })
      .option('node-rank', { type: 'number', default: 0, describe: 'this node\'s index (0 holds the rendezvous store)' })
      .option('master-addr', { type: 'string', default: '127.0.0.1', describe: 'address of node 0 (MASTER_ADDR)' })
      .option('master-port', { type: 'number', default: 29500, describe: 'TCP port of the rendezvous store on node 0 (MASTER_PORT)' })
      .option('grace', { type: 'number', default: 30, describe: 'seconds the other workers get to stop on their own after one fails' })
      .example('$0 launch --nproc 2 -- search --task sequential --data D --model M --tokenizer T -o OUT', '') as unknown as Argv<LaunchArgs>,
  handler: async (args) => {
    const command = (args['--'] ?? args._.slice(1)).map(String);
    const r = await launch({
      nproc: args.nproc,
      nnodes: args.nnodes,
      nodeRank: args['node-rank'],
      masterAddr: args['master-addr'],
      masterPort: args['master-port'],
      graceMs: args.grace * 1000,
      command,
      paprecCommands: PAPREC_COMMANDS,
      self: [...process.execArgv, process.argv[1]!], // the entry that runs this CLI, run the same way
    });
    process.exitCode = r.code;
  },
};
