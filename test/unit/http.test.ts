// The HTTP server (src/management/http.ts): address and token rules, routes, 404/405, and input that never crashes it.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkHttpListen,
  type HttpApp,
  HttpServer,
  type HttpServerOptions,
  isLoopbackHost,
  MAX_BODY_BYTES,
  parseHttpListen,
  STATUS_PAGE_DIR,
} from '../../src/management/http.js';
import { ConfigError } from '../../src/util/errors.js';
import { SeededRandom } from '../../src/util/random.js';

const TOKEN = 's3cret-token';
/** Random garbage requests sent in the robustness test. */
const FUZZ_ROUNDS = 40;
const FUZZ_MAX_BYTES = 600;
/** A raw exchange ends when the server closes or stays quiet this long. */
const RAW_QUIET_MS = 300;

let servers: HttpServer[] = [];
afterEach(async () => {
  for (const s of servers) await s.close();
  servers = [];
});

/** An app that records writes and can be told to throw. */
function app(): { app: HttpApp; writes: Record<string, unknown>[] } {
  const writes: Record<string, unknown>[] = [];
  return {
    writes,
    app: {
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'x_total 1\n' }),
      reads: {
        status: () => ({ kind: 'edge', ok: true }),
        broken: () => {
          throw new Error('boom');
        },
      },
      writes: {
        verbose: (body) => {
          writes.push(body);
          return { status: 200, body: { traceLevel: body.level ?? 2 } };
        },
        stop: () => ({ status: 202, body: { stopping: true } }),
      },
    },
  };
}

async function serve(
  opts: Partial<HttpServerOptions> = {},
): Promise<{ base: string; writes: Record<string, unknown>[]; s: HttpServer }> {
  const a = app();
  const s = await HttpServer.start({ host: '127.0.0.1', port: 0, app: a.app, ...opts });
  servers.push(s);
  return { base: `http://127.0.0.1:${s.address.port}`, writes: a.writes, s };
}

/** One raw request over TCP; resolves with everything the server sent until it closed or went quiet. */
function raw(port: number, data: Buffer | string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    const done = (): void => {
      sock.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, RAW_QUIET_MS);
    sock.on('data', (d) => {
      out += d.toString('latin1');
    });
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on('error', () => undefined);
    sock.write(data);
  });
}

describe('--http and --http-token rules', () => {
  it('parses ADDR:PORT, PORT, ADDR, [v6]:PORT and off', () => {
    expect(parseHttpListen('off', 5644)).toBeUndefined();
    expect(parseHttpListen('127.0.0.1:8080', 5644)).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseHttpListen('9100', 5644)).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(parseHttpListen('10.0.0.1', 5645)).toEqual({ host: '10.0.0.1', port: 5645 });
    expect(parseHttpListen('[::1]:81', 5644)).toEqual({ host: '::1', port: 81 });
    expect(parseHttpListen(':81', 5644)).toEqual({ host: '127.0.0.1', port: 81 });
    for (const bad of ['host.example:80', '1.2.3.4:99999', '1.2.3.4:x', 'on', '1.2.3.4:80:1']) {
      expect(() => parseHttpListen(bad, 5644), bad).toThrow(ConfigError);
    }
  });

  it('needs a token off loopback, and never an empty one', () => {
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('127.9.9.9')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('localhost')).toBe(true);
    expect(isLoopbackHost('0.0.0.0')).toBe(false);
    expect(isLoopbackHost('10.1.2.3')).toBe(false);
    expect(() => checkHttpListen({ host: '127.0.0.1', port: 1 }, undefined)).not.toThrow();
    expect(() => checkHttpListen({ host: '0.0.0.0', port: 1 }, undefined)).toThrow(
      /not a loopback address.*--http-token/,
    );
    expect(() => checkHttpListen({ host: '0.0.0.0', port: 1 }, 'x')).not.toThrow();
    expect(() => checkHttpListen({ host: '127.0.0.1', port: 1 }, '')).toThrow(/empty/);
  });

  it('refuses to start on a public address without a token', async () => {
    await expect(HttpServer.start({ host: '0.0.0.0', port: 0, app: app().app })).rejects.toThrow(ConfigError);
  });
});

describe('routes', () => {
  it('serves metrics, the route list, reads and writes', async () => {
    const { base, writes } = await serve();
    const m = await fetch(`${base}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toContain('text/plain');
    expect(await m.text()).toBe('x_total 1\n');
    expect(await (await fetch(`${base}/api/v1/`)).json()).toEqual({
      reads: ['status', 'broken'],
      writes: ['verbose', 'stop'],
    });
    const st = await fetch(`${base}/api/v1/status`);
    expect(st.headers.get('cache-control')).toBe('no-store');
    expect(await st.json()).toEqual({ kind: 'edge', ok: true });
    const post = await fetch(`${base}/api/v1/verbose`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"level":3}',
    });
    expect(post.status).toBe(200);
    expect(await post.json()).toEqual({ traceLevel: 3 });
    // An empty body is {}.
    const stop = await fetch(`${base}/api/v1/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(stop.status).toBe(202);
    expect(writes).toEqual([{ level: 3 }]);
    const head = await fetch(`${base}/api/v1/status`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('answers 404 for unknown paths and 405 (with Allow) for wrong methods', async () => {
    const { base } = await serve();
    for (const p of [
      '/nope',
      '/api/v2/status',
      '/api/v1/nope',
      '/api/v1/__proto__',
      '/api/v1/constructor',
      '/api/v1/status/x',
      '/web/status.js',
      '/../package.json',
      '/%2e%2e/package.json',
      '/api/v1/%2e%2e%2fstatus',
    ]) {
      const r = await fetch(`${base}${p}`);
      expect(r.status, p).toBe(404);
      expect(((await r.json()) as { error?: unknown }).error, p).toBeTypeOf('string');
    }
    const del = await fetch(`${base}/api/v1/status`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET, HEAD');
    const getWrite = await fetch(`${base}/api/v1/stop`);
    expect(getWrite.status).toBe(405);
    expect(getWrite.headers.get('allow')).toBe('POST');
    const postRead = await fetch(`${base}/api/v1/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(postRead.status).toBe(405);
    expect((await fetch(`${base}/metrics`, { method: 'PUT' })).status).toBe(405);
  });

  it('serves the status page from the package with a strict content security policy', async () => {
    const { base } = await serve();
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script src="status.js"');
    expect(html).not.toMatch(/https?:\/\//);
    const js = await fetch(`${base}/status.js`);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect(await js.text()).toContain("fetch('api/v1/status'");
    expect((await fetch(`${base}/status.css`)).status).toBe(200);
    expect(STATUS_PAGE_DIR.pathname.endsWith('/web/')).toBe(true);
  });

  it('ships the page in the package, where dist/management/http.js finds it', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
        cwd: root,
        encoding: 'utf8',
      }),
    ) as { files: { path: string }[] }[];
    const files = packed[0].files.map((f) => f.path);
    for (const f of ['web/status.html', 'web/status.js', 'web/status.css']) expect(files).toContain(f);
    // From dist/management/ as from src/management/, ../../web/ is the package's web/.
    const fromDist = new URL('../../web/status.html', new URL('dist/management/http.js', `file://${root}`));
    expect(existsSync(fromDist)).toBe(true);
    expect(fileURLToPath(STATUS_PAGE_DIR)).toBe(`${root}web/`);
  });

  it('turns a throwing handler into a 500 and goes on serving', async () => {
    const errors: unknown[] = [];
    const { base, s } = await serve({ onError: (e) => errors.push(e) });
    const r = await fetch(`${base}/api/v1/broken`);
    expect(r.status).toBe(500);
    expect(await r.json()).toEqual({ error: 'internal error' });
    expect(errors).toHaveLength(1);
    expect(s.stats.serverErrors).toBe(1);
    expect((await fetch(`${base}/api/v1/status`)).status).toBe(200);
  });
});

describe('token', () => {
  it('guards metrics and the API, not the page files', async () => {
    const { base } = await serve({ token: TOKEN });
    for (const p of ['/metrics', '/api/v1/', '/api/v1/status', '/api/v1/nope']) {
      const r = await fetch(`${base}${p}`);
      expect(r.status, p).toBe(401);
      expect(r.headers.get('www-authenticate')).toContain('Bearer');
    }
    const wrong = await fetch(`${base}/api/v1/status`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    const basic = await fetch(`${base}/api/v1/status`, { headers: { authorization: `Basic ${TOKEN}` } });
    expect(basic.status).toBe(401);
    const ok = await fetch(`${base}/api/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    const post = await fetch(`${base}/api/v1/stop`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(post.status).toBe(401);
    expect((await fetch(`${base}/`)).status).toBe(200);
    expect((await fetch(`${base}/status.js`)).status).toBe(200);
  });

  it('without a token, refuses Host names other than IP addresses and localhost (DNS rebinding)', async () => {
    const { s } = await serve();
    const port = s.address.port;
    const ask = (host: string): Promise<string> =>
      raw(port, `GET /api/v1/status HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(await ask('attacker.example')).toMatch(/^HTTP\/1.1 403/);
    expect(await ask('attacker.example:5644')).toMatch(/^HTTP\/1.1 403/);
    expect(await ask(`127.0.0.1:${port}`)).toMatch(/^HTTP\/1.1 200/);
    expect(await ask(`localhost:${port}`)).toMatch(/^HTTP\/1.1 200/);
    expect(await ask('[::1]')).toMatch(/^HTTP\/1.1 200/);
  });
});

describe('bad input', () => {
  it('answers bad POST bodies with 4xx', async () => {
    const { base, writes } = await serve();
    const post = (body: string, type = 'application/json'): Promise<Response> =>
      fetch(`${base}/api/v1/verbose`, { method: 'POST', headers: { 'content-type': type }, body });
    expect((await post('{"level":1}', 'text/plain')).status).toBe(415);
    expect((await post('{"level":1}', 'application/x-www-form-urlencoded')).status).toBe(415);
    expect((await post('{nope')).status).toBe(400);
    expect((await post('[1,2]')).status).toBe(400);
    expect((await post('null')).status).toBe(400);
    expect((await post('"str"')).status).toBe(400);
    expect((await post(`{"x":"${'a'.repeat(MAX_BODY_BYTES)}"}`)).status).toBe(413);
    expect(writes).toEqual([]);
  });

  it('survives malformed requests and random bytes', async () => {
    const { base, s } = await serve();
    const port = s.address.port;
    expect(await raw(port, 'GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1.1 400/);
    expect(
      await raw(
        port,
        `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n${'X: y\r\n'.repeat(2000)}\r\n`,
      ),
    ).toMatch(/^HTTP\/1.1 (400|431)/);
    expect(await raw(port, 'GET http://evil/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).toMatch(/^HTTP\/1.1 400/);
    // A body shorter than announced, then the connection closes.
    await raw(
      port,
      'POST /api/v1/verbose HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"le',
    );
    const rnd = new SeededRandom(12);
    for (let i = 0; i < FUZZ_ROUNDS; i++) {
      const n = 1 + (rnd.u32() % FUZZ_MAX_BYTES);
      const b = Buffer.alloc(n);
      for (let j = 0; j < n; j++) b[j] = rnd.u32() & 0xff;
      // Half of them start like a request, so the parser gets past the first line.
      await raw(port, i % 2 ? Buffer.concat([Buffer.from('GET /api/v1/status HTTP/1.1\r\n'), b]) : b);
    }
    const r = await fetch(`${base}/api/v1/status`);
    expect(r.status).toBe(200);
    expect(s.stats.serverErrors).toBe(0);
  });
});
