import { readdirSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { rebuildReport } from '../search/run.js';
import { withOutputLock } from '../util/lock.js';

interface ReportArgs {
  dir: string;
  force: boolean;
}

/** `paprec report OUTDIR`: rebuild report.md / report.json and the plots of a finished search from its saved state. */
export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <dir>',
  describe: 'Rebuild report.md, report.json and the plots of a `paprec search` folder',
  builder: (y: Argv) => y
      .positional('dir', { type: 'string', demandOption: true, describe: 'output folder of paprec search' })
      .option('force', { type: 'boolean', default: false, describe: 'take over a stale lock of the folder (a run killed with kill -9)' }) as unknown as Argv<ReportArgs>,
  handler: async (args) => {
    // The report files are written into the search's folder: not while a search is writing there.
    await withOutputLock(args.dir, `paprec ${process.argv.slice(2).join(' ')}`, { force: args.force }, () => rebuildReport(args.dir));
    const plots = readdirSync(args.dir).filter((f) => ['surrogate.svg', 'time.svg', 'length.svg'].includes(f));
    process.stdout.write(`wrote ${args.dir}/report.md, report.json${plots.map((f) => `, ${f}`).join('')}\n`);
  },
};
