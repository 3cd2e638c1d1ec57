// `paprec demo --quick` end to end through the built CLI (bin/paprec.js over dist/, as a newcomer runs it): the
// output folder's files exist and parse, the backbone beats the popularity baseline on the demo's test split, and
// every automated prompt's validation surrogate is at least its starting prompt's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReportJson } from '../../src/report/index.js';
import type { PromptJson } from '../../src/search/index.js';
import { POPULAR_KIND } from '../../src/demo/popular.js';
import { PROJECTED_KIND, SOFT_KIND } from '../../src/demo/soft.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let dir: string;
let run: { status: number | null; stdout: string; stderr: string; seconds: number };

const readJson = <T>(...parts: string[]): T => JSON.parse(readFileSync(path.join(dir, ...parts), 'utf8')) as T;

beforeAll(async () => {
  // The CLI runs the compiled code: build it from the current sources first.
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
  dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'paprec-demo-')), 'out');
  // Generous limits: ~100 s alone, but it shares 2 cores with the other test files (and with a busy host).
  // Asynchronous: a blocked worker would miss vitest's own heartbeats during the minutes the demo runs.
  const started = Date.now();
  run = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bin/paprec.js'), 'demo', '--quick', '-o', dir, '--device', 'cpu'], { cwd: root, timeout: 900_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
  });
}, 930_000);

afterAll(() => {
  if (dir) rmSync(path.dirname(dir), { recursive: true, force: true });
});

describe('paprec demo --quick', () => {
  it('finishes, prints the table and where the files are, with sparse progress when not a TTY', () => {
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('== sequential (test split) ==');
    for (const kind of ['seen manual', 'unseen manual', POPULAR_KIND, 'non-personalized', 'personalized', SOFT_KIND, PROJECTED_KIND]) expect(run.stdout).toContain(kind);
    expect(run.stdout).toContain('report.md');
    // Not a TTY: stage and epoch lines only, no carriage-return redraws.
    expect(run.stderr).not.toContain('\r');
    expect(run.stderr).toMatch(/\[1\/\d\].*world/);
  });

  it('writes every output, and each parses', () => {
    for (const f of ['report.md', 'report.json', 'pretrain.svg', 'tokenizer.json', 'data/sequential_data.txt', 'backbone/config.json', 'backbone/model.safetensors',
      'sequential/report.md', 'sequential/report.json', 'sequential/prompt.json', 'sequential/surrogate.svg', 'sequential/history.jsonl']) {
      expect(existsSync(path.join(dir, f)), f).toBe(true);
    }
    const top = readJson<{ quick: boolean; tasks: Record<string, unknown>; pretrain: { history: unknown[] } }>('report.json');
    expect(top.quick).toBe(true);
    expect(Object.keys(top.tasks)).toEqual(['sequential']);
    expect(top.pretrain.history.length).toBeGreaterThan(0);
    for (const svg of ['pretrain.svg', 'sequential/surrogate.svg']) expect(readFileSync(path.join(dir, svg), 'utf8')).toMatch(/^(<\?xml[^>]*\?>\s*)?<svg[\s\S]*<\/svg>\s*$/);
    const md = readFileSync(path.join(dir, 'report.md'), 'utf8');
    expect(md).toContain('| prompt | HR@5 | NDCG@5 | HR@10 | NDCG@10 |');
    for (const line of readFileSync(path.join(dir, 'sequential/history.jsonl'), 'utf8').trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });

  it("the table has the paper's rows with mean ± std over the runs, the popularity baseline on the same examples, and the soft prompt", () => {
    const report = readJson<ReportJson>('sequential', 'report.json');
    expect(report.rows.map((r) => r.kind)).toEqual(['seen manual', 'unseen manual', POPULAR_KIND, 'non-personalized', 'personalized', SOFT_KIND, PROJECTED_KIND]);
    expect(existsSync(path.join(dir, 'sequential', 'soft.json'))).toBe(true);
    for (const row of report.rows) {
      expect(row.runsMeasured).toBeGreaterThanOrEqual(2);
      for (const m of ['HR@5', 'NDCG@5', 'HR@10', 'NDCG@10']) {
        const c = row.metrics[m]!;
        // A row whose runs gave the same per-example scores is one run (popularity ignores the history joiner).
        expect(c.n, `${row.kind} ${m}`).toBe(row.identical ? 1 : row.runsMeasured);
        expect(c.mean).toBeGreaterThanOrEqual(0);
        expect(c.mean).toBeLessThanOrEqual(1);
      }
    }
  });

  it('the backbone beats popularity on the test split (NDCG@10 of the seen manual prompt, same examples and runs)', () => {
    const report = readJson<ReportJson>('sequential', 'report.json');
    const row = (kind: string) => report.rows.find((r) => r.kind === kind)!;
    expect(row('seen manual').metrics['NDCG@10']!.mean).toBeGreaterThan(row(POPULAR_KIND).metrics['NDCG@10']!.mean);
  });

  it("every automated prompt's validation surrogate is at least its starting prompt's", () => {
    const prompts = readJson<PromptJson>('sequential', 'prompt.json');
    expect(prompts.prompts.map((p) => p.personalized).sort()).toEqual([false, true]);
    for (const p of prompts.prompts) {
      expect(p.validation.start, p.kind).not.toBeNull();
      expect(p.validation.best!, p.kind).toBeGreaterThanOrEqual(p.validation.start!);
    }
  });

  it('refuses to overwrite a non-empty folder without --overwrite, naming the folder', () => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin/paprec.js'), 'demo', '--quick', '-o', dir], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(dir);
    expect(r.stderr).toContain('--overwrite');
  });
});
