import type { Argv, CommandModule } from 'yargs';
import { loadDataset } from '../data/dataset.js';
import { formatStats } from '../data/stats.js';

interface StatsArgs {
  dir: string;
  json: boolean;
  seed: number;
  'max-users'?: number;
}

/** `paprec data stats DIR [--json]`: users, items, interactions, sequence lengths and density of a P5 folder. */
export const dataStatsCommand: CommandModule<object, StatsArgs> = {
  command: 'stats <dir>',
  describe: 'Count users, items, interactions, sequence lengths and density of a P5 data folder',
  builder: (y: Argv) =>
    y
      .positional('dir', { type: 'string', demandOption: true, describe: 'P5 folder (sequential_data.txt, datamaps.json, ...)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of a table' })
      .option('seed', { type: 'number', default: 2022, describe: 'dataset seed (generated negatives)' })
      .option('max-users', { type: 'number', describe: 'read only users 1..N' }) as unknown as Argv<StatsArgs>,
  handler: async (args) => {
    const ds = await loadDataset(args.dir, {
      seed: args.seed,
      maxUsers: args['max-users'],
      // Notes go to stderr so `--json` output stays machine-readable.
      onWarning: (msg) => process.stderr.write(`note: ${msg}\n`),
    });
    const stats = ds.stats();
    if (args.json) process.stdout.write(JSON.stringify({ name: ds.name, dir: ds.dir, ...stats }, null, 2) + '\n');
    else process.stdout.write(formatStats(ds.name, stats) + '\n');
  },
};

/** `paprec data <command>`: the group that holds `stats`. */
export const dataCommand: CommandModule = {
  command: 'data <command>',
  describe: 'Inspect P5 data folders',
  builder: (y: Argv) => y.command(dataStatsCommand as unknown as CommandModule).demandCommand(1),
  handler: () => {},
};
