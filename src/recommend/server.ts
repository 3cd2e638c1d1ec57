/**
 * `paprec serve` over node:http: `POST /recommend` (one request object or a list) and `GET /health`.
 *
 * Every request is checked and rendered on arrival (a bad one is answered 400 naming the field, and never joins a
 * batch); the good ones wait in a bounded queue (503 + Retry-After when full) and are answered from one native call
 * per batch (src/recommend/batcher.ts). Limits: body bytes (413), requests per list, items per history or candidate
 * list (400), and a deadline per request (504). Nothing a client sends can stop the server: every failure of one
 * request is that request's answer. `close()` is the graceful shutdown: no new requests, the ones in flight finish.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Batcher, QueueFullError } from './batcher.js';
import { RequestError, type PreparedRequest, type Recommendation, type Recommender } from './recommender.js';

export interface ServeOptions {
  /** Beam width of every batch (requests may ask for any k up to it). */
  beams: number;
  /** Default k and constraint of a request that does not say. */
  k: number;
  constrained: boolean;
  /** Most requests per native call. */
  maxBatch: number;
  /** How long the first request of a batch waits for company (ms). */
  maxWaitMs: number;
  /** Requests that may wait for the engine; beyond it the answer is 503. */
  maxQueue: number;
  /** A request's deadline from arrival to answer (ms); 504 after it. */
  timeoutMs: number;
  maxBodyBytes: number;
  /** Requests in one POSTed list. */
  maxListLength: number;
  /** Items in one history or candidate list. */
  maxItems: number;
}

export const SERVE_DEFAULTS: Omit<ServeOptions, 'beams' | 'k' | 'constrained'> = {
  maxBatch: 32,
  maxWaitMs: 5,
  maxQueue: 256,
  timeoutMs: 30_000,
  maxBodyBytes: 1 << 20,
  maxListLength: 256,
  maxItems: 1000,
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** The body, at most `limit` bytes (413 past it, without reading the rest). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit) return reject(new HttpError(413, `body: ${declared} bytes, more than the ${limit} bytes this server reads`));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.removeAllListeners('end');
        reject(new HttpError(413, `body: more than the ${limit} bytes this server reads`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class RecommendServer {
  readonly http: http.Server;
  private readonly batcher: Batcher<PreparedRequest, Recommendation>;
  private open = 0;
  private closing: Promise<void> | undefined;
  private served = 0;
  private failed = 0;

  constructor(
    private readonly recommender: Recommender,
    private readonly o: ServeOptions,
  ) {
    this.batcher = new Batcher((items) => recommender.run(items, { beams: o.beams }), {
      maxBatch: o.maxBatch,
      maxWaitMs: o.maxWaitMs,
      maxQueue: o.maxQueue,
    });
    this.http = http.createServer((req, res) => void this.handle(req, res));
    // Slow senders cannot hold a connection much past the deadline (node:http checks these about once a second).
    this.http.requestTimeout = Math.max(1000, o.timeoutMs);
    this.http.headersTimeout = Math.max(1000, Math.min(o.timeoutMs, 60_000));
  }

  /** Native calls made and requests they answered. */
  get stats(): { batches: number; requests: number; served: number; failed: number } {
    return { batches: this.batcher.batches, requests: this.batcher.items, served: this.served, failed: this.failed };
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve(this.http.address() as AddressInfo);
      });
    });
  }

  /** Graceful shutdown: refuse new requests, finish those in flight, then close every connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
      this.http.closeIdleConnections();
      await this.batcher.idle();
      const deadline = Date.now() + this.o.timeoutMs;
      while (this.open > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      this.http.closeAllConnections();
      await closed;
    })();
    return this.closing;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.open++;
    try {
      if (this.closing) throw new HttpError(503, 'the server is shutting down', undefined, { connection: 'close', 'retry-after': '1' });
      const url = (req.url ?? '/').split('?')[0];
      if (url === '/health') {
        if (req.method !== 'GET') throw new HttpError(405, `${req.method} /health: use GET`, undefined, { allow: 'GET' });
        return send(res, 200, {
          status: 'ok',
          task: this.recommender.task,
          beams: this.o.beams,
          waiting: this.batcher.waiting,
          busy: this.batcher.busy,
          ...this.stats,
        });
      }
      if (url !== '/recommend') throw new HttpError(404, `${url}: not found (POST /recommend, GET /health)`);
      if (req.method !== 'POST') throw new HttpError(405, `${req.method} /recommend: use POST`, undefined, { allow: 'POST' });
      send(res, 200, await this.recommend(req, res));
      this.served++;
    } catch (err) {
      this.failed++;
      if (err instanceof HttpError) {
        send(res, err.status, { error: err.message, ...(err.field ? { field: err.field } : {}) }, err.headers);
      } else {
        send(res, 500, { error: `engine: ${(err as Error).message}` });
      }
      // An unread body (413, 404, ...) is read and dropped by node:http once the answer is sent.
    } finally {
      this.open--;
    }
  }

  private parse(body: Buffer): { list: boolean; prepared: PreparedRequest[] } {
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, `body: not valid JSON (${(err as Error).message})`, 'body');
    }
    const list = Array.isArray(json);
    const reqs = list ? (json as unknown[]) : [json];
    if (list && reqs.length === 0) throw new HttpError(400, 'body: an empty list', 'body');
    if (reqs.length > this.o.maxListLength) throw new HttpError(400, `body: ${reqs.length} requests, at most ${this.o.maxListLength} per call`, 'body');
    const opts = { k: this.o.k, beams: this.o.beams, constrained: this.o.constrained };
    const prepared = reqs.map((r, i) => {
      const where = list ? `[${i}]` : 'request';
      for (const field of ['history', 'candidates'] as const) {
        const v = (r as Record<string, unknown> | null)?.[field];
        if (Array.isArray(v) && v.length > this.o.maxItems) {
          throw new HttpError(400, `${where}.${field}: ${v.length} items, at most ${this.o.maxItems}`, `${where}.${field}`);
        }
      }
      try {
        return this.recommender.prepare(r as never, opts, where);
      } catch (err) {
        if (err instanceof RequestError) throw new HttpError(400, err.message, err.field);
        throw err;
      }
    });
    return { list, prepared };
  }

  private async recommend(req: http.IncomingMessage, res: http.ServerResponse): Promise<Recommendation | Recommendation[]> {
    const started = Date.now();
    const { list, prepared } = this.parse(await readBody(req, this.o.maxBodyBytes));
    let ticket;
    try {
      ticket = this.batcher.submit(prepared);
    } catch (err) {
      if (err instanceof QueueFullError) throw new HttpError(503, `${err.message}: retry shortly`, undefined, { 'retry-after': '1' });
      throw err;
    }
    let timer: NodeJS.Timeout | undefined;
    let gone: (() => void) | undefined;
    const abandoned = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ticket.cancel();
        reject(new HttpError(504, `timed out after ${this.o.timeoutMs} ms (queue or engine too slow)`));
      }, Math.max(0, this.o.timeoutMs - (Date.now() - started)));
      // the client left: its waiting items need no answer, and nobody waits for this one
      gone = () => {
        ticket.cancel();
        reject(new HttpError(499, 'the client closed the connection'));
      };
      res.on('close', gone);
    });
    try {
      const out = await Promise.race([ticket.result, abandoned]);
      return list ? out : out[0]!;
    } finally {
      clearTimeout(timer);
      res.off('close', gone!);
    }
  }
}
