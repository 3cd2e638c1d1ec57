import type { Argv, CommandModule } from 'yargs';
import { LOG_FORMATS, type LogFormat } from '../data/interactionLog.js';
import { prepareDataset } from '../data/prepare.js';

interface PrepareArgs {
  log: string;
  out: string;
  format: LogFormat;
  'min-count': number;
  seed: number;
  overwrite: boolean;
  json: boolean;
}

/** `paprec prepare <log> -o <dir> --format ...`: build a P5 folder from an interaction log. */
export const prepareCommand: CommandModule<object, PrepareArgs> = {
  command: 'prepare <log>',
  describe: 'Build a P5 data folder (k-core, time order, P5 numbering, negatives) from an interaction log',
  builder: (y: Argv) =>
    y
      .positional('log', { type: 'string', demandOption: true, describe: 'interaction log (u.data, ratings.csv, *.json[.gz], ...)' })
      .option('out', { alias: 'o', type: 'string', demandOption: true, describe: 'output folder' })
      .option('format', { type: 'string', choices: LOG_FORMATS as string[], demandOption: true, describe: 'log format' })
      .option('min-count', { type: 'number', default: 5, describe: 'k of the iterative k-core (users and items)' })
      .option('seed', { type: 'number', default: 2022, describe: 'seed for user numbering and negatives' })
      .option('overwrite', { type: 'boolean', default: false, describe: 'replace a non-empty output folder' })
      .option('json', { type: 'boolean', default: false, describe: 'print the summary as JSON' }) as unknown as Argv<PrepareArgs>,
  handler: async (args) => {
    const r = await prepareDataset(args.log, args.out, {
      format: args.format,
      minCount: args['min-count'],
      seed: args.seed,
      overwrite: args.overwrite,
    });
    if (args.json) {
      process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      return;
    }
    process.stdout.write(
      `wrote ${r.outDir}: ${r.users.toLocaleString('en-US')} users, ${r.items.toLocaleString('en-US')} items, ` +
        `${r.interactions.toLocaleString('en-US')} interactions ` +
        `(from ${r.rawInteractions.toLocaleString('en-US')} interactions of ${r.rawUsers} users / ${r.rawItems} items; ` +
        `${args['min-count']}-core in ${r.kcoreRounds} pass(es))\n`,
    );
  },
};
