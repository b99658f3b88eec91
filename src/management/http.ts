// The daemons' HTTP server (node:http): GET /metrics, the JSON API under /api/v1/, the status page, bearer-token rules.
//
// Rules, in order, for every request:
//   1. Without a token (only allowed on loopback) the Host header must name an IP address or `localhost`, so a web
//      page cannot reach the API through a DNS name rebound to 127.0.0.1.
//   2. With a token, everything but the status page's own files (which carry no data) needs
//      `Authorization: Bearer <token>`; the page's script sends the token it finds in the URL fragment (#token=…).
//   3. POST bodies must be `Content-Type: application/json` (a cross-site form cannot send that without CORS
//      approval, which is never given), at most MAX_BODY_BYTES, a JSON object or empty.
// Nothing a client sends can throw out of the handler: errors become 4xx/5xx answers.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { ConfigError } from '../util/errors.js';

/** `--http off`. */
export const HTTP_OFF = 'off';
/** Default address: loopback only. The ports are the programs' UDP management port numbers (TCP here). */
export const DEFAULT_HTTP_HOST = '127.0.0.1';
export const DEFAULT_EDGE_HTTP_PORT = 5644;
export const DEFAULT_SUPERNODE_HTTP_PORT = 5645;
/** Where the JSON API lives. */
export const API_PREFIX = '/api/v1/';
/** Largest POST body read. */
export const MAX_BODY_BYTES = 4096;
/** Slow clients are cut off: the whole request, its headers, an idle keep-alive connection. */
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Concurrent connections accepted (a dashboard, a scraper, a few CLI calls). */
const MAX_CONNECTIONS = 64;
const MAX_PORT = 65535;

/** Where the status page's files are: `web/` at the package root (from src/management and dist/management). */
export const STATUS_PAGE_DIR = new URL('../../web/', import.meta.url);
/** The page's files: URL path → file name and content type. */
const PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'status.html', type: 'text/html; charset=utf-8' },
  '/status.js': { file: 'status.js', type: 'text/javascript; charset=utf-8' },
  '/status.css': { file: 'status.css', type: 'text/css; charset=utf-8' },
};
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The answer of an API write. */
export interface ApiResult {
  status: number;
  body: unknown;
}

/** What the server serves; the daemon's side (http-api.ts) builds it. */
export interface HttpApp {
  /** The Prometheus exposition. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** `GET /api/v1/<name>`. */
  reads: Readonly<Record<string, () => unknown>>;
  /** `POST /api/v1/<name>` with the parsed JSON body ({} when empty). */
  writes: Readonly<Record<string, (body: Record<string, unknown>) => ApiResult | Promise<ApiResult>>>;
}

export interface HttpListen {
  host: string;
  port: number;
}

export interface HttpServerOptions extends HttpListen {
  app: HttpApp;
  /** Bearer token; required (checkHttpListen) unless `host` is loopback. */
  token?: string;
  /** The status page's directory (default STATUS_PAGE_DIR). */
  pageDir?: URL;
  /** Reports handler failures (a bug, never a client's fault); default: ignored. */
  onError?: (err: unknown) => void;
}

/**
 * Parses `--http` (`ADDR:PORT`, `[v6]:PORT`, `:PORT`, `PORT`, `ADDR` or `off`); undefined means off. Throws
 * ConfigError on anything else.
 */
export function parseHttpListen(spec: string, defaultPort: number): HttpListen | undefined {
  const s = spec.trim();
  if (s === HTTP_OFF) return undefined;
  let host = DEFAULT_HTTP_HOST;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else if (/^\d+$/.test(s)) {
    portText = s;
  } else {
    const i = s.lastIndexOf(':');
    if (i >= 0 && s.indexOf(':') === i) {
      if (i > 0) host = s.slice(0, i);
      portText = s.slice(i + 1);
    } else host = s;
  }
  const port = portText === undefined ? defaultPort : Number(portText);
  if (portText !== undefined && !/^\d{1,5}$/.test(portText)) {
    throw new ConfigError(`--http ${spec}: bad port (expected ADDR:PORT, PORT or '${HTTP_OFF}')`);
  }
  if (!Number.isInteger(port) || port > MAX_PORT) {
    throw new ConfigError(`--http ${spec}: port must be 0..${MAX_PORT}`);
  }
  if (isIP(host) === 0 && host !== 'localhost') {
    throw new ConfigError(
      `--http ${spec}: '${host}' is not an IP address (expected ADDR:PORT or '${HTTP_OFF}')`,
    );
  }
  return { host, port };
}

/** 127.0.0.0/8, ::1, ::ffff:127.x, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** The rule of `--http-token`: a non-loopback address needs one. Throws ConfigError (one line). */
export function checkHttpListen(listen: HttpListen, token: string | undefined): void {
  if (token !== undefined && token.length === 0) throw new ConfigError('--http-token: the token is empty');
  if (!isLoopbackHost(listen.host) && token === undefined) {
    throw new ConfigError(
      `--http ${listen.host}:${listen.port} is not a loopback address: give --http-token (or TSN2N_HTTP_TOKEN) too`,
    );
  }
}

/** The Host header names an IP address or localhost (port allowed). */
function hostHeaderOk(host: string | undefined): boolean {
  if (host === undefined) return false;
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (v6) return isIP(v6[1]) === 6;
  const name = host.replace(/:\d+$/, '');
  return isIP(name) === 4 || name.toLowerCase() === 'localhost';
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** An HTTP server bound by `start()`; `close()` ends it and every open connection. */
export class HttpServer {
  private readonly server: Server;
  private readonly tokenDigest: Buffer | undefined;
  private readonly page = new Map<string, Buffer | undefined>();
  /** Requests answered, by status class, for tests and the logs. */
  readonly stats = { requests: 0, clientErrors: 0, serverErrors: 0 };

  private constructor(private readonly options: HttpServerOptions) {
    this.tokenDigest = options.token !== undefined ? digest(options.token) : undefined;
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server.requestTimeout = REQUEST_TIMEOUT_MS;
    this.server.headersTimeout = HEADERS_TIMEOUT_MS;
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    this.server.maxConnections = MAX_CONNECTIONS;
    // Malformed requests (bad request line, oversized headers): answer 400 and close, never throw.
    this.server.on('clientError', (_err, socket) => {
      this.stats.clientErrors++;
      if (socket.writable)
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Checks the token rule (checkHttpListen), binds, resolves once listening. */
  static async start(options: HttpServerOptions): Promise<HttpServer> {
    checkHttpListen(options, options.token);
    const s = new HttpServer(options);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      s.server.once('error', onError);
      s.server.listen({ host: options.host, port: options.port }, () => {
        s.server.off('error', onError);
        resolve();
      });
    });
    return s;
  }

  /** The bound address and port. */
  get address(): HttpListen {
    const a = this.server.address();
    if (a === null || typeof a === 'string') return { host: this.options.host, port: this.options.port };
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    try {
      await this.route(req, res);
    } catch (err) {
      if (err instanceof HttpError) {
        this.stats.clientErrors++;
        this.json(res, err.status, { error: err.message }, err.headers);
      } else {
        this.stats.serverErrors++;
        this.options.onError?.(err);
        this.json(res, 500, { error: 'internal error' });
      }
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? '';
    const raw = req.url ?? '';
    if (!raw.startsWith('/')) throw new HttpError(400, 'bad request target');
    let path: string;
    try {
      path = new URL(raw, 'http://h').pathname;
    } catch {
      throw new HttpError(400, 'bad request target');
    }
    if (this.tokenDigest === undefined && !hostHeaderOk(req.headers.host)) {
      throw new HttpError(403, 'the Host header must be an IP address or localhost');
    }
    const pageFile = PAGE_FILES[path === '/index.html' ? '/' : path];
    if (pageFile !== undefined) {
      this.allow(method, ['GET', 'HEAD']);
      this.send(res, 200, pageFile.type, this.pageContent(pageFile.file), method === 'HEAD', {
        'Content-Security-Policy': PAGE_CSP,
        'Referrer-Policy': 'no-referrer',
      });
      return;
    }
    const known = path === '/metrics' || path.startsWith(API_PREFIX) || path === API_PREFIX.slice(0, -1);
    if (!known) throw new HttpError(404, 'not found');
    this.authorize(req);
    if (path === '/metrics') {
      this.allow(method, ['GET', 'HEAD']);
      const m = await this.options.app.metrics();
      this.send(res, 200, m.contentType, Buffer.from(m.body, 'utf8'), method === 'HEAD');
      return;
    }
    const name = path.startsWith(API_PREFIX) ? decodeName(path.slice(API_PREFIX.length)) : '';
    const { reads, writes } = this.options.app;
    if (name === '') {
      this.allow(method, ['GET', 'HEAD']);
      this.json(res, 200, { reads: Object.keys(reads), writes: Object.keys(writes) }, {}, method === 'HEAD');
      return;
    }
    const read = Object.hasOwn(reads, name) ? reads[name] : undefined;
    const write = Object.hasOwn(writes, name) ? writes[name] : undefined;
    if (read === undefined && write === undefined) throw new HttpError(404, `no API route '${name}'`);
    const allowed = [...(read ? ['GET', 'HEAD'] : []), ...(write ? ['POST'] : [])];
    this.allow(method, allowed);
    if (method === 'POST' && write !== undefined) {
      const body = await readJsonBody(req);
      const r = await write(body);
      this.json(res, r.status, r.body);
      return;
    }
    this.json(res, 200, read!(), {}, method === 'HEAD');
  }

  private authorize(req: IncomingMessage): void {
    const want = this.tokenDigest;
    if (want === undefined) return;
    const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
    if (m === null || !timingSafeEqual(digest(m[1]), want)) {
      throw new HttpError(401, 'a bearer token is required', {
        'WWW-Authenticate': 'Bearer realm="tsn2n"',
      });
    }
  }

  private allow(method: string, allowed: readonly string[]): void {
    if (!allowed.includes(method)) {
      throw new HttpError(405, `method ${method} not allowed`, { Allow: allowed.join(', ') });
    }
  }

  private pageContent(file: string): Buffer {
    if (!this.page.has(file)) {
      let content: Buffer | undefined;
      try {
        content = readFileSync(new URL(file, this.options.pageDir ?? STATUS_PAGE_DIR));
      } catch {
        content = undefined;
      }
      this.page.set(file, content);
    }
    const c = this.page.get(file);
    if (c === undefined) throw new HttpError(404, `status page file ${file} is not installed`);
    return c;
  }

  private json(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
    headOnly = false,
  ): void {
    const text = `${JSON.stringify(body)}\n`;
    this.send(res, status, 'application/json; charset=utf-8', Buffer.from(text, 'utf8'), headOnly, headers);
  }

  private send(
    res: ServerResponse,
    status: number,
    type: string,
    body: Buffer,
    headOnly: boolean,
    headers: Record<string, string> = {},
  ): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': String(body.length),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...headers,
    });
    res.end(headOnly ? undefined : body);
  }
}

/** The route name after /api/v1/: one path segment, percent-decoded. */
function decodeName(s: string): string {
  try {
    const n = decodeURIComponent(s);
    return n.includes('/') ? '\u0000' : n;
  } catch {
    throw new HttpError(400, 'bad route name');
  }
}

/** Reads a POST body: JSON object (or empty = {}), at most MAX_BODY_BYTES, Content-Type application/json. */
async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    throw new HttpError(415, 'POST bodies must be Content-Type: application/json');
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) {
    req.resume();
    throw new HttpError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body is larger than ${MAX_BODY_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, 'the request body did not arrive whole');
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new HttpError(400, 'the body must be a JSON object');
  return v as Record<string, unknown>;
}
