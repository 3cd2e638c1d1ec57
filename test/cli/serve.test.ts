// `paprec serve`'s server (in process, tiny random P5 on the demo world, CPU): answers, batching, every kind of bad
// request (malformed JSON, wrong types, unknown user / items, oversized body, a flood past the queue, a deadline),
// and that it still serves afterwards; graceful shutdown finishes the requests in flight.
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { writeDemoData } from '../../src/demo/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { loadDataset } from '../../src/data/index.js';
import { Backbone } from '../../src/backbone/index.js';
import { manualPrompt } from '../../src/prompts/index.js';
import { Recommender } from '../../src/recommend/index.js';
import { RecommendServer, SERVE_DEFAULTS, type ServeOptions } from '../../src/recommend/server.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'paprec-serve-'));
let rec: Recommender;
const servers: RecommendServer[] = [];

beforeAll(async () => {
  const files = await writeDemoData(tmp, { seed: 5, users: 40, items: 120, minLength: 5, maxLength: 12 });
  const tokenizer = await loadTokenizer(files.tokenizerPath);
  const dataset = await loadDataset(files.dataDir);
  const backbone = await Backbone.create(
    { vocabSize: tokenizer.vocabSize, dModel: 32, dKv: 8, dFf: 64, numHeads: 4, numLayers: 2, wholeWordEmbeddings: true },
    { seed: 11, device: 'cpu' },
  );
  rec = new Recommender({ backbone, tokenizer, prompt: manualPrompt('2-3'), dataset });
});
afterAll(async () => {
  for (const s of servers) await s.close();
  rec?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

async function start(o: Partial<ServeOptions> = {}): Promise<{ server: RecommendServer; url: string }> {
  const server = new RecommendServer(rec, { ...SERVE_DEFAULTS, beams: 5, k: 5, constrained: true, ...o });
  servers.push(server);
  const a = await server.listen(0, '127.0.0.1');
  return { server, url: `http://127.0.0.1:${a.port}` };
}

/** The real Recommender, 150 ms slower per engine call: requests surely wait while one is in flight. */
async function startSlow(o: Partial<ServeOptions>): Promise<{ server: RecommendServer; url: string }> {
  const slow = Object.create(rec, {
    run: { value: async (...a: Parameters<Recommender['run']>) => (await new Promise((r) => setTimeout(r, 150)), rec.run(...a)) },
  }) as Recommender;
  const server = new RecommendServer(slow, { ...SERVE_DEFAULTS, beams: 5, k: 5, constrained: true, ...o });
  servers.push(server);
  return { server, url: `http://127.0.0.1:${(await server.listen(0, '127.0.0.1')).port}` };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** One request on its own connection (no keep-alive), body as given. */
function call(url: string, method: string, route: string, body?: string | Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${route}`, { method, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const post = (url: string, body: unknown) => call(url, 'POST', '/recommend', typeof body === 'string' ? body : JSON.stringify(body));

describe('paprec serve', () => {
  it('answers one request and a list, and reports health', async () => {
    const { url } = await start();
    const one = await post(url, { user: 3 });
    expect(one.status).toBe(200);
    expect(one.body.user).toBe(3);
    expect(one.body.items).toHaveLength(5);
    expect(one.body.scores).toHaveLength(5);
    for (const i of one.body.items) expect(rec.catalogue!.has(i)).toBe(true);
    const list = await post(url, [{ user: 1, k: 2 }, { user: 2, history: [4, 5, 6], constrained: false }, { user: 3 }]);
    expect(list.status).toBe(200);
    expect(list.body.map((r: { user: number }) => r.user)).toEqual([1, 2, 3]);
    expect(list.body[0].items).toHaveLength(2);
    // same request, same answer, whatever batch it rode in (padding moves scores in the last float bits)
    expect(list.body[2].items).toEqual(one.body.items);
    list.body[2].scores.forEach((s: number, i: number) => expect(s).toBeCloseTo(one.body.scores[i], 5));
    const health = await call(url, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', task: 'sequential', beams: 5, served: 2 });
  });

  it('gathers concurrent requests into fewer engine calls', async () => {
    const { server, url } = await start({ maxBatch: 16, maxWaitMs: 20 });
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => post(url, { user: (i % 40) + 1 })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(server.stats.requests).toBe(16);
    expect(server.stats.batches).toBeLessThan(8);
  });

  it('bad requests get 4xx answers that name the field, and the server still serves', async () => {
    const { url } = await start({ maxBodyBytes: 4096 });
    const bad = await post(url, '{"user": 3,');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ field: 'body' });
    expect(bad.body.error).toMatch(/^body: not valid JSON/);

    const type = await post(url, { user: '7' });
    expect(type.status).toBe(400);
    expect(type.body).toEqual({ error: 'request.user: expected a user id (a positive integer), got "7"', field: 'request.user' });
    const inList = await post(url, [{ user: 1 }, { user: 2, history: 'abc' }]);
    expect(inList.status).toBe(400);
    expect(inList.body.field).toBe('[1].history');

    const unknownUser = await post(url, { user: 999 });
    expect(unknownUser.status).toBe(400);
    expect(unknownUser.body.error).toBe('request.user: user 999 is not in the data (users 1..40) and the request gives no history');
    const unknownItem = await post(url, { user: 1, history: [5, 4242] });
    expect(unknownItem.status).toBe(400);
    expect(unknownItem.body.error).toMatch(/request.history: unknown item id 4242/);

    const big = await post(url, { user: 1, history: Array.from({ length: 3000 }, () => 5) });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatch(/body: .*more than the 4096 bytes/);
    const long = await post(url, { user: 1, candidates: Array.from({ length: 1001 }, () => 5) });
    expect(long.status).toBe(400);
    expect(long.body).toEqual({ error: 'request.candidates: 1001 items, at most 1000', field: 'request.candidates' });

    expect((await call(url, 'GET', '/nope')).status).toBe(404);
    expect((await call(url, 'GET', '/recommend')).status).toBe(405);
    expect((await post(url, [])).status).toBe(400);

    const fine = await post(url, { user: 4 });
    expect(fine.status).toBe(200);
    expect(fine.body.items).toHaveLength(5);
  });

  it('any JSON value or byte string as a body gets a 200 or a 4xx naming the field, never a crash', async () => {
    const { url } = await start({ maxBodyBytes: 4096 });
    const request = fc.record(
      { user: fc.oneof(fc.integer({ min: -2, max: 60 }), fc.string(), fc.constant(null)), history: fc.array(fc.integer({ min: -1, max: 130 }), { maxLength: 5 }), k: fc.integer({ min: -1, max: 8 }) },
      { requiredKeys: [] },
    );
    const body = fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'), request.map((v) => JSON.stringify(v)), fc.array(request, { maxLength: 4 }).map((v) => JSON.stringify(v)), fc.string());
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const a = await post(url, b);
        expect([200, 400, 413]).toContain(a.status);
        if (a.status !== 200) expect(typeof a.body.error).toBe('string');
        if (a.status === 400) expect(typeof a.body.field).toBe('string');
      }),
      { numRuns: 150, seed: 16 },
    );
    expect((await call(url, 'GET', '/health')).body.status).toBe('ok');
  });

  it('a flood past the queue gets 503 with Retry-After; the rest are answered; then it serves again', async () => {
    const { url } = await start({ maxBatch: 2, maxWaitMs: 0, maxQueue: 4 });
    const tooMany = await post(url, Array.from({ length: 5 }, (_, i) => ({ user: i + 1 })));
    expect(tooMany.status).toBe(503);
    expect(tooMany.headers['retry-after']).toBe('1');
    const flood = await Promise.all(Array.from({ length: 40 }, (_, i) => post(url, { user: (i % 40) + 1 })));
    const codes = flood.map((a) => a.status);
    expect(codes.filter((c) => c === 503).length).toBeGreaterThan(0);
    expect(codes.filter((c) => c === 200).length).toBeGreaterThan(0);
    expect(codes.every((c) => c === 200 || c === 503)).toBe(true);
    for (const a of flood.filter((x) => x.status === 503)) expect(a.headers['retry-after']).toBe('1');
    expect((await post(url, { user: 9 })).status).toBe(200);
  });

  it('a client that leaves while waiting is dropped from the queue; the server goes on', async () => {
    const { server, url } = await startSlow({ maxBatch: 1 });
    const first = post(url, { user: 1 }); // occupies the engine
    await new Promise((r) => setTimeout(r, 20));
    await new Promise<void>((resolve) => {
      const req = http.request(`${url}/recommend`, { method: 'POST', agent: false });
      req.on('error', () => resolve()); // our own abort
      req.end(JSON.stringify({ user: 2 }), () => setTimeout(() => req.destroy(), 20));
    });
    expect((await first).status).toBe(200);
    const after = await post(url, { user: 3 });
    expect(after.status).toBe(200);
    expect(server.stats.requests).toBe(2); // the one that left never reached the engine
  });

  it('a request past its deadline gets 504', async () => {
    // The engine takes 150 ms, the deadline is 1 ms: the deadline wins however loaded the machine is.
    const { url } = await startSlow({ timeoutMs: 1, maxWaitMs: 50 });
    const late = await post(url, { user: 2 });
    expect(late.status).toBe(504);
    expect(late.body.error).toMatch(/timed out after 1 ms/);
  });

  it('close() is graceful: requests in flight are answered, later ones refused', async () => {
    const { server, url } = await startSlow({ maxBatch: 2 });
    const inFlight = Array.from({ length: 6 }, (_, i) => post(url, { user: i + 1 }));
    await new Promise((r) => setTimeout(r, 50)); // arrived: one batch in the engine, the others queued
    expect(server.stats.batches).toBe(1);
    const closed = server.close();
    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    await closed;
    await expect(post(url, { user: 1 })).rejects.toThrow(/ECONNREFUSED/);
  });
});
