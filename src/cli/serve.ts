/**
 * `paprec serve`: the Recommender over HTTP (src/recommend/server.ts). SIGTERM / SIGINT shut it down gracefully:
 * no new requests, the ones in flight are answered, then the process exits 0.
 */
import type { Argv, CommandModule } from 'yargs';
import { fail } from '../errors.js';
import type { CliDtype } from './dtype.js';
import { recommenderOptions } from './recommend.js';
import { DEFAULT_BEAMS, DEFAULT_K, Recommender } from '../recommend/index.js';
import { RecommendServer, SERVE_DEFAULTS, type ServeOptions } from '../recommend/server.js';

interface ServeArgs {
  model: string;
  tokenizer: string;
  prompt: string;
  data?: string;
  port: number;
  host: string;
  k: number;
  beams: number;
  constrained: boolean;
  'max-batch': number;
  'max-wait-ms': number;
  'max-queue': number;
  'timeout-ms': number;
  'max-body-bytes': number;
  device: string;
  dtype: CliDtype;
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) fail('serve', `--${name} must be an integer >= ${min}, got ${v}`);
}

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'Serve recommendations over HTTP: POST /recommend (one request or a list), GET /health',
  builder: (y: Argv) =>
    recommenderOptions(y)
      .option('port', { type: 'number', default: 8080, describe: '0: any free port' })
      .option('host', { type: 'string', default: '127.0.0.1' })
      .option('k', { alias: 'n', type: 'number', default: DEFAULT_K, describe: 'items per request unless it says' })
      .option('beams', { type: 'number', default: DEFAULT_BEAMS, describe: 'beam width of every batch' })
      .option('constrained', { type: 'boolean', default: false, describe: 'decode only valid items unless a request says' })
      .option('max-batch', { type: 'number', default: SERVE_DEFAULTS.maxBatch, describe: 'requests per engine call (1: no batching)' })
      .option('max-wait-ms', { type: 'number', default: SERVE_DEFAULTS.maxWaitMs, describe: 'how long a batch waits for more requests' })
      .option('max-queue', { type: 'number', default: SERVE_DEFAULTS.maxQueue, describe: 'waiting requests before 503' })
      .option('timeout-ms', { type: 'number', default: SERVE_DEFAULTS.timeoutMs, describe: 'deadline of a request (504 after)' })
      .option('max-body-bytes', { type: 'number', default: SERVE_DEFAULTS.maxBodyBytes, describe: 'largest request body (413 above)' }) as unknown as Argv<ServeArgs>,
  handler: async (args) => {
    checkInt('port', args.port, 0);
    if (args.port > 65535) fail('serve', `--port must be at most 65535, got ${args.port}`);
    checkInt('beams', args.beams, 1);
    checkInt('k', args.k, 1);
    if (args.k > args.beams) fail('serve', `-k ${args.k} is more than --beams ${args.beams}`);
    checkInt('max-batch', args['max-batch'], 1);
    checkInt('max-wait-ms', args['max-wait-ms'], 0);
    checkInt('max-queue', args['max-queue'], 1);
    checkInt('timeout-ms', args['timeout-ms'], 1);
    checkInt('max-body-bytes', args['max-body-bytes'], 2);
    const rec = await Recommender.load({
      model: args.model,
      tokenizer: args.tokenizer,
      prompt: args.prompt,
      ...(args.data ? { data: args.data } : {}),
      device: args.device,
      dtype: args.dtype,
      onWarning: (m) => process.stderr.write(`note: ${m}\n`),
    });
    const opts: ServeOptions = {
      ...SERVE_DEFAULTS,
      beams: args.beams,
      k: args.k,
      constrained: args.constrained,
      maxBatch: args['max-batch'],
      maxWaitMs: args['max-wait-ms'],
      maxQueue: args['max-queue'],
      timeoutMs: args['timeout-ms'],
      maxBodyBytes: args['max-body-bytes'],
    };
    const server = new RecommendServer(rec, opts);
    let addr;
    try {
      addr = await server.listen(args.port, args.host);
    } catch (err) {
      await rec.dispose();
      fail(`serve ${args.host}:${args.port}`, `cannot listen (${(err as Error).message})`);
    }
    const catalogue = rec.catalogue ? `, ${rec.catalogue.size} items` : ', no catalogue';
    process.stderr.write(
      `paprec serve: listening on http://${addr.address}:${addr.port} (${rec.task} prompt ${args.prompt}${catalogue}, ` +
        `${args.beams} beams, batches of up to ${opts.maxBatch} on ${rec.backbone.device})\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        process.stderr.write(`paprec serve: ${signal}: finishing the requests in flight\n`);
        void server.close().then(resolve);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    const s = server.stats;
    await rec.dispose();
    process.stderr.write(`paprec serve: stopped (${s.served} answered, ${s.failed} refused, ${s.batches} engine calls)\n`);
  },
};
