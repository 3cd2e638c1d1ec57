/**
 * The client of bench/hf/worker.py: one long-lived Python process (torch + transformers) answering JSON lines, so
 * that the vs-hf bench can alternate Hugging Face and paprec timings in one run. Arrays travel as base64.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = path.join(ROOT, 'bench', 'hf', 'worker.py');
const SETUP = 'bash scripts/hf-reference.sh';

export const i32 = (a: Int32Array | number[]): string => 'i32:' + Buffer.from(Int32Array.from(a).buffer).toString('base64');
export const f32 = (a: Float32Array): string => 'f32:' + Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

/** "i32:..." / "f32:..." back to a typed array. */
export function decode(s: string): Int32Array | Float32Array {
  const [kind, data] = [s.slice(0, 3), s.slice(4)];
  const buf = Buffer.from(data, 'base64');
  const copy = new Uint8Array(buf).buffer; // aligned
  if (kind === 'i32') return new Int32Array(copy);
  if (kind === 'f32') return new Float32Array(copy);
  throw new Error(`hf worker: unknown array kind ${kind}`);
}

/** The Python of the Hugging Face side: PAPREC_HF_PYTHON, else .hf-venv/bin/python; a clear error when neither exists. */
export function hfPython(env = process.env): string {
  if (env.PAPREC_HF_PYTHON) {
    if (!existsSync(env.PAPREC_HF_PYTHON)) {
      throw new Error(`PAPREC_HF_PYTHON=${env.PAPREC_HF_PYTHON} does not exist (unset it to use .hf-venv, made by \`${SETUP}\`)`);
    }
    return env.PAPREC_HF_PYTHON;
  }
  const venv = path.join(ROOT, '.hf-venv', 'bin', 'python');
  if (!existsSync(venv)) {
    throw new Error(
      `no Python environment for the Hugging Face side: ${path.relative(process.cwd(), venv) || venv} does not exist. ` +
        `Create it with \`${SETUP}\` (needs python3 with venv and pip; installs torch (CPU) and transformers 5.x from pip), ` +
        `or set PAPREC_HF_PYTHON to a python that has torch and transformers`,
    );
  }
  return venv;
}

type Reply = Record<string, unknown> & { id: number; ok: boolean; error?: string };

export class HfWorker {
  private nextId = 1;
  private readonly pending = new Map<number, { op: string; resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private stderrTail = '';
  private exited: string | undefined;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly python: string,
  ) {
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (this.stderrTail = (this.stderrTail + d).slice(-4000)));
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    child.on('error', (err) => this.fail(`could not start ${python}: ${err.message}`));
    child.on('exit', (code, signal) => this.fail(`exited (${signal ?? `code ${code}`})`));
  }

  /** Starts the worker and sets its threads; fails with the reason when torch or transformers does not import. */
  static async start(python: string, threads: number): Promise<{ worker: HfWorker; hello: Record<string, unknown> }> {
    const child = spawn(python, [SCRIPT], {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        ...process.env,
        HF_HUB_OFFLINE: '1',
        TRANSFORMERS_VERBOSITY: 'error',
        HF_HUB_DISABLE_PROGRESS_BARS: '1',
        TQDM_DISABLE: '1',
        TOKENIZERS_PARALLELISM: 'false',
        PYTHONUNBUFFERED: '1',
      },
    });
    const worker = new HfWorker(child, python);
    try {
      const hello = await worker.call('hello', { threads });
      return { worker, hello };
    } catch (err) {
      worker.close();
      throw new Error(
        `the Hugging Face worker (${python}) did not start: ${(err as Error).message}. ` +
          `Rebuild its environment with \`${SETUP}\` (or fix PAPREC_HF_PYTHON)`,
      );
    }
  }

  call(op: string, req: Record<string, unknown>): Promise<Reply> {
    if (this.exited) return Promise.reject(new Error(`hf worker ${this.exited}${this.tail()}`));
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { op, resolve, reject });
      this.child.stdin.write(JSON.stringify({ id, op, ...req }) + '\n');
    });
  }

  close(): void {
    if (this.exited) return;
    this.child.stdin.end();
    this.child.kill();
  }

  private tail(): string {
    const t = this.stderrTail.trim().split('\n').slice(-6).join('\n');
    return t ? `; its last output:\n${t}` : '';
  }

  private onLine(line: string): void {
    let reply: Reply;
    try {
      reply = JSON.parse(line) as Reply;
    } catch {
      this.stderrTail += `\n(stdout) ${line}`;
      return;
    }
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (reply.ok) p.resolve(reply);
    else p.reject(new Error(`hf ${p.op}: ${reply.error ?? 'failed'}`));
  }

  private fail(why: string): void {
    if (this.exited) return;
    this.exited = why;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(new Error(`hf worker ${why} during ${p.op}${this.tail()}`));
    }
  }
}
