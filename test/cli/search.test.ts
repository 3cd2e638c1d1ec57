// `paprec search` as a process: Ctrl-C stops at a safe point, kill -9 loses at most the round in progress, and
// `--resume` ends with the prompts of an uninterrupted run. Bad flags fail before any work.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { promises as fsp, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { Backbone } from '../../src/backbone/index.js';
import { searchCommand } from '../../src/cli/search.js';
import { reportCommand } from '../../src/cli/report.js';
import { loadState } from '../../src/search/state.js';
import { readHistory } from '../../src/search/history.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let tmp: string;
let args: string[];

beforeAll(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'paprec-cli-search-'));
  const demo = await writeDemoData(tmp, { seed: 4, users: 40, items: 140, minLength: 5, maxLength: 8 });
  const tok = await loadTokenizer(demo.tokenizerPath);
  const b = await Backbone.create({ vocabSize: tok.vocabSize, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2, numDecoderLayers: 2, wholeWordSize: 128 }, { seed: 2 });
  await b.save(path.join(tmp, 'model'));
  b.dispose();
  args = ['--data', demo.dataDir, '--model', path.join(tmp, 'model'), '--tokenizer', demo.tokenizerPath, '--task', 'sequential',
    '--max-users', '30', '--k', '3', '--length', '3', '--epochs', '12', '--criterion', 'loss', '--runs', '1', '--seed', '9'];
  // The child: the search command alone, under a yargs of its own (the CLI entry is wired by the lead).
  await fsp.writeFile(path.join(tmp, 'cli.mts'), [
    `import { createRequire } from 'node:module';`,
    `const yargs = createRequire(${JSON.stringify(path.join(ROOT, 'package.json'))})('yargs');`,
    `import { searchCommand } from ${JSON.stringify(path.join(ROOT, 'src/cli/search.ts'))};`,
    `import { reportCommand } from ${JSON.stringify(path.join(ROOT, 'src/cli/report.ts'))};`,
    `await yargs(process.argv.slice(2)).command(searchCommand).command(reportCommand).strict().fail((m, e) => { process.stderr.write('paprec: ' + (e ? e.message : m) + '\\n'); process.exit(1); }).parseAsync();`,
  ].join('\n'));
});

afterAll(async () => {
  if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
});

function cli(argv: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; signal: string | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(tmp, 'cli.mts'), 'search', ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => {
      stderr += String(d);
      onStderr?.(stderr, child);
    });
    child.on('close', (code, signal) => resolve({ code, signal, stderr, stdout }));
  });
}

/** Fires once, when the 2nd finished task round shows on stderr. */
function afterRounds(n: number, sig: NodeJS.Signals) {
  let sent = false;
  return (text: string, child: ReturnType<typeof spawn>) => {
    const rounds = (text.match(/: (accepted|rejected)/g) ?? []).length;
    if (!sent && rounds >= n) {
      sent = true;
      child.kill(sig);
    }
  };
}

describe('paprec search (process)', () => {
  it('Ctrl-C and kill -9 both resume to the prompts of a straight run', async () => {
    const straight = await cli([...args, '-o', path.join(tmp, 'straight')]);
    expect(straight.stderr).not.toContain('paprec:');
    expect(straight.code).toBe(0);
    expect(straight.stderr).toMatch(/\[np-l3\] epoch \d+\/12 slot \d: scoring 3 candidates/);
    const want = await loadState(path.join(tmp, 'straight'));

    const outInt = path.join(tmp, 'sigint');
    const stopped = await cli([...args, '-o', outInt], afterRounds(2, 'SIGINT'));
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain(`paprec search --resume ${outInt}`);
    const mid = await loadState(outInt);
    expect(mid.variants[0]!.epoch).toBeGreaterThanOrEqual(2);
    expect(mid.variants[0]!.status).not.toBe('done');
    expect(await cli(['--resume', outInt])).toMatchObject({ code: 0 });

    const outKill = path.join(tmp, 'sigkill');
    const killed = await cli([...args, '-o', outKill], afterRounds(3, 'SIGKILL'));
    expect(killed.signal).toBe('SIGKILL');
    const refused = await cli(['--resume', outKill]); // kill -9 left a stale lock: reported, taken over only with --force
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/stale lock .*pass --force/);
    expect(await cli(['--resume', outKill, '--force'])).toMatchObject({ code: 0 });

    for (const out of [outInt, outKill]) {
      const got = await loadState(out);
      expect(got.variants.map((v) => v.best)).toEqual(want.variants.map((v) => v.best));
      expect(got.variants.map((v) => v.curve)).toEqual(want.variants.map((v) => v.curve));
      const strip = (h: { time: number }[]) => h.map(({ time: _t, ...rest }) => rest);
      expect(strip(await readHistory(path.join(out, 'history.jsonl')))).toEqual(strip(await readHistory(path.join(tmp, 'straight', 'history.jsonl'))));
    }
  }, 120_000);

  it('bad flags fail before any work', async () => {
    const run = (argv: string[]) =>
      yargs(argv).command(searchCommand).command(reportCommand).strict().fail((m, e) => { throw e ?? new Error(m); }).parseAsync();
    const out = path.join(tmp, 'bad');
    await expect(run(['search', ...args.map((a) => (a === 'sequential' ? 'rating' : a)), '-o', out])).rejects.toThrow(/unknown task "rating"/);
    await expect(run(['search', ...args.map((a, i) => (args[i - 1] === '--length' ? '0' : a)), '-o', out])).rejects.toThrow(/length l must be/);
    await expect(run(['search', ...args.map((a, i) => (args[i - 1] === '--k' ? '100000' : a)), '-o', out])).rejects.toThrow(/larger than the vocabulary/);
    await expect(run(['search', ...args, '--pool', '2', '-o', out])).rejects.toThrow(/pool B = 2 is smaller than k = 3/);
    await expect(run(['search', ...args, '--pool-rows', '64', '-o', out])).rejects.toThrow(/pool-rows needs a pool larger than k/);
    await expect(run(['search', ...args])).rejects.toThrow(/-o OUTDIR/);
    expect(existsSync(out)).toBe(false);
    await expect(run(['report', path.join(tmp, 'nothing-here')])).rejects.toThrow(/search state/);
  });
});
