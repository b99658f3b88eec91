// Fuzz target: the HTTP API's request handling (target, Host, token, method, route name, JSON body) of both daemons.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { HttpServer, type HttpServerOptions } from '../src/management/http.js';
import { edgeHttpApp, supernodeHttpApp } from '../src/management/http-api.js';
import { edgeMetrics, supernodeMetrics } from '../src/management/metrics.js';
import { makeWorld } from '../test/unit/edge-harness.js';
import { makeEnv, startSn } from '../test/unit/supernode-harness.js';
import { check } from './common.js';

const VERSION = 'fuzz';
const TOKEN = 'fuzz-token';
/** Selector byte: bit 0 = the supernode's API (with a bearer token), else the edge's (loopback, no token). */
const SEL_SN = 1;

const env = makeEnv(13);
env.files['/fuzz.list'] = 'goldencomm\n';
const sn = await startSn(env, { communityFile: '/fuzz.list' });
const w = makeWorld();
const node = w.edge('10.77.0.3', {
  community: 'goldencomm',
  supernodes: ['10.77.0.1:7654'],
  transform: 'aes',
  key: 'goldenkey',
  address: '172.29.0.2/24',
  mac: '02:00:00:bb:00:02',
});
await node.edge.start();

/** The server's request handler without a socket: HttpServer's constructor binds nothing (start() listens). */
type Handler = {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  stats: HttpServer['stats'];
};
function server(options: HttpServerOptions): Handler {
  return Reflect.construct(HttpServer, [options]) as unknown as Handler;
}
const noStop = (): void => {};
const servers: Handler[] = [
  server({
    host: '127.0.0.1',
    port: 0,
    app: edgeHttpApp(node.edge, {
      version: VERSION,
      metrics: edgeMetrics(node.edge, { version: VERSION }),
      stop: noStop,
    }),
  }),
  server({
    host: '0.0.0.0',
    port: 0,
    token: TOKEN,
    app: supernodeHttpApp(sn, {
      version: VERSION,
      metrics: supernodeMetrics(sn, { version: VERSION }),
      stop: noStop,
    }),
  }),
];

/** A response that records what the server wrote. */
class Recorder {
  headersSent = false;
  status = 0;
  ended = false;
  destroyed = false;
  writeHead(status: number): this {
    this.status = status;
    this.headersSent = true;
    return this;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

/** Splits raw request text: request line, header lines, blank line, body (a lenient HTTP/1.1 framing). */
function request(raw: Buffer): IncomingMessage {
  const text = raw.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? '' : text.slice(split + 4);
  const [line = '', ...fields] = head.split('\r\n');
  const [method = '', url = ''] = line.split(' ');
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const colon = f.indexOf(':');
    if (colon > 0) headers[f.slice(0, colon).trim().toLowerCase()] = f.slice(colon + 1).trim();
  }
  const req = Readable.from(body === '' ? [] : [Buffer.from(body, 'latin1')]);
  return Object.assign(req, { method, url, headers }) as unknown as IncomingMessage;
}

const REQUESTS = [
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
  'GET /api/v1/ HTTP/1.1\r\nHost: localhost:5644\r\n\r\n',
  'GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
  'HEAD /api/v1/edges HTTP/1.1\r\nHost: [::1]:5644\r\n\r\n',
  'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
  'POST /api/v1/verbose HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n{"level":2}',
  'POST /api/v1/reload_communities HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\r\n',
  'GET /api/v1/drops HTTP/1.1\r\nHost: example.org\r\n\r\n',
  `GET /api/v1/communities HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
  `POST /api/v1/verbose HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"level":9}`,
  `GET /api/v1/%2e%2e HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
];

/** Every request above, to each daemon. */
export function seeds(): Uint8Array[] {
  return REQUESTS.flatMap((r) => [0, SEL_SN].map((sel) => Uint8Array.of(sel, ...Buffer.from(r, 'latin1'))));
}

/**
 * A real server returns to the event loop between requests; without that, the setImmediate probe of prom-client's
 * nodejs_eventloop_lag_seconds (run by every /metrics scrape) piles up and looks like a leak.
 */
const INPUTS_PER_TURN = 64;
const INPUTS_PER_LOG_CLEAR = 500;
let inputs = 0;

/** Every request is answered (or the connection closed) with a 2xx/4xx; a 500 means a handler threw. */
export async function fuzz(data: Buffer): Promise<void> {
  if (data.length === 0) return;
  if (++inputs % INPUTS_PER_TURN === 0) await new Promise<void>((r) => setImmediate(r));
  if (inputs % INPUTS_PER_LOG_CLEAR === 0) {
    env.logger.lines.length = 0;
    node.logger.lines.length = 0;
  }
  const s = servers[data[0] & SEL_SN];
  const res = new Recorder();
  const before = s.stats.serverErrors;
  await s.handle(request(data.subarray(1)), res as unknown as ServerResponse);
  check(
    s.stats.serverErrors === before,
    `the handler failed (500) on ${JSON.stringify(data.toString('latin1'))}`,
  );
  check(res.ended || res.destroyed, 'no response was sent');
}
