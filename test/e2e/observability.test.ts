// Observability in the lab: Prometheus scrapes a supernode and edges; promtool, Chromium, `tsn2n status`, hooks.
//
// A real Prometheus scrapes a supernode and two edges, promtool checks both endpoints, the status page runs in
// headless Chromium, `tsn2n status` reads HTTP and UDP, and the --on-event hooks fire.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Lab, type LabHost, type LabProcess, ping, waitFor, waitForPing } from '../../src/lab/index.js';
import {
  assertAlive,
  edgeArgs,
  figure,
  labGate,
  MAIN_JS,
  newLab,
  requireBuild,
  SN_ADDR,
  SN_IP,
  segmentTopology,
  startEdge,
  startSupernode,
  tapMac,
} from './helpers.js';

/** The tools this file needs besides the lab's (Debian packages prometheus and chromium). */
const TOOLS = ['prometheus', 'promtool', 'chromium'] as const;
const gate = labGate(TOOLS);

const TOKEN = 'e2e-observability-token';
const EDGE_HTTP_PORT = 5644;
const SN_HTTP_PORT = 5645;
/** Edge d runs with -t D_MGMT_PORT: its HTTP server follows onto that number. */
const D_MGMT_PORT = 5650;
const PROM_PORT = 9090;
const PROM_ADDR = `${SN_IP}:${PROM_PORT}`;
const A_IP = '10.77.0.1';
const B_IP = '10.77.0.2';
const C_IP = '10.78.0.3';
const D_IP = '10.78.0.4';
const UP_TIMEOUT_S = 30;
const P2P_TIMEOUT_MS = 30_000;
const PROM_TIMEOUT_MS = 45_000;
const BROWSER_TIMEOUT_MS = 120_000;
const HOOK_TIMEOUT_MS = 20_000;
/** Grace before SIGKILL when edge a stops: its peer_down and unregistered hooks run first. */
const EDGE_STOP_GRACE_MS = 8_000;
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Appends the TSN2N_* variables it was started with, as one JSON line, to the file given as argument. */
const HOOK_SCRIPT = `
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('TSN2N_')));
require('fs').appendFileSync(process.argv[2], JSON.stringify(env) + '\\n');
`;

/** GET inside a namespace (Node's fetch): prints {status, body}. */
const FETCH_SCRIPT = `
const [url, token] = process.argv.slice(1);
fetch(url, { headers: token ? { Authorization: 'Bearer ' + token } : {} })
  .then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })))
  .catch((e) => process.stdout.write(JSON.stringify({ status: 0, body: String(e) })));
`;

/** Drives Chromium through playwright-core: opens the page, waits for rows and a refresh, reads the table, screenshots. */
function browserScript(playwright: string): string {
  return `
const pw = await import(${JSON.stringify(playwright)});
const chromium = pw.chromium ?? pw.default.chromium;
const [url, shot, userDataDir] = process.argv.slice(2);
const ctx = await chromium.launchPersistentContext(userDataDir, {
  executablePath: ${JSON.stringify(CHROMIUM)},
  headless: true,
  args: ${JSON.stringify(CHROMIUM_ARGS)},
  viewport: { width: 1280, height: 820 },
});
try {
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
  await page.waitForFunction(() => document.querySelectorAll('#peers tbody tr').length > 0, null, { timeout: 30000 });
  const before = await page.textContent('#updated');
  // Live refresh: the page asks again by itself and says when.
  await page.waitForFunction((t) => document.getElementById('updated').textContent !== t, before, { timeout: 15000 });
  const headers = await page.$$eval('#peers thead th', (ths) => ths.map((t) => t.textContent));
  const rows = await page.$$eval('#peers tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  const cards = await page.$$eval('.card', (cs) => cs.map((c) => c.textContent));
  const title = await page.textContent('#title');
  await page.screenshot({ path: shot, fullPage: true });
  process.stdout.write(JSON.stringify({ headers, rows, cards, title, before, after: await page.textContent('#updated') }));
} finally {
  await ctx.close();
}
`;
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(gate.skip)('observability: Prometheus, status page, tsn2n status, hooks', () => {
  let lab: Lab;
  let dir: string;
  let sn: LabHost;
  let a: LabHost;
  let b: LabHost;
  let c: LabHost;
  let d: LabHost;
  let psn: LabProcess;
  let pa: LabProcess;
  let pb: LabProcess;
  let prom: LabProcess | undefined;
  let macA: string;
  let macB: string;
  let macD: string;
  const hookLogA = (): string => join(dir, 'hooks-edge-a.jsonl');
  const hookLogSn = (): string => join(dir, 'hooks-supernode.jsonl');

  /** GET `url` from inside namespace `ns`. */
  async function get(ns: string, url: string, token?: string): Promise<{ status: number; body: string }> {
    const r = await lab.runNode(ns, FETCH_SCRIPT, token ? [url, token] : [url]);
    return JSON.parse(r.stdout) as { status: number; body: string };
  }

  /** An instant query against our Prometheus. */
  async function query(expr: string): Promise<PromSample[]> {
    const r = await get(sn.ns, `http://${PROM_ADDR}/api/v1/query?query=${encodeURIComponent(expr)}`);
    if (r.status !== 200) throw new Error(`prometheus query ${expr}: HTTP ${r.status} ${r.body}`);
    return (JSON.parse(r.body) as { data: { result: PromSample[] } }).data.result;
  }

  /** `tsn2n status …` inside a namespace. */
  function status(
    ns: string,
    args: readonly string[],
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return lab.run(ns, [process.execPath, MAIN_JS, 'status', ...args], { check: false });
  }

  function hookLines(path: string): Record<string, string>[] {
    let text = '';
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, string>);
  }

  beforeAll(async () => {
    requireBuild();
    lab = await newLab(TOOLS);
    dir = mkdtempSync(join(tmpdir(), 'tsn2n-obs-'));
    const hook = join(dir, 'hook.cjs');
    writeFileSync(hook, HOOK_SCRIPT);
    const t = await segmentTopology(lab, ['a', 'b', 'c', 'd']);
    sn = t.sn;
    [a, b, c, d] = t.edges;
    const onEvent = (log: string): string[] => ['--on-event', `${process.execPath} ${hook} ${log}`];
    psn = await startSupernode(lab, sn, [
      '--http',
      `${SN_IP}:${SN_HTTP_PORT}`,
      '--http-token',
      TOKEN,
      ...onEvent(hookLogSn()),
    ]);
    const obs = { community: 'obsnet', supernodes: [SN_ADDR] };
    const http = (h: LabHost): string[] => ['--http', `${h.ip}:${EDGE_HTTP_PORT}`, '--http-token', TOKEN];
    pa = startEdge(
      lab,
      a,
      edgeArgs({ ...obs, address: `${A_IP}/24`, desc: 'alpha', extra: [...http(a), ...onEvent(hookLogA())] }),
    );
    pb = startEdge(lab, b, edgeArgs({ ...obs, address: `${B_IP}/24`, desc: 'beta', extra: http(b) }));
    // The relay pair: -S1 (never P2P), HTTP on the default loopback address of their own namespaces.
    const relay = { community: 'relaynet', supernodes: [SN_ADDR] };
    startEdge(lab, c, edgeArgs({ ...relay, address: `${C_IP}/24`, desc: 'gamma', extra: ['-S1'] }));
    startEdge(
      lab,
      d,
      edgeArgs({ ...relay, address: `${D_IP}/24`, desc: 'delta', extra: ['-S1', '-t', String(D_MGMT_PORT)] }),
    );
    expect(await waitForPing(lab, a.ns, B_IP, UP_TIMEOUT_S), 'no ping a → b').toBeDefined();
    expect(await waitForPing(lab, c.ns, D_IP, UP_TIMEOUT_S), 'no ping c → d').toBeDefined();
    macA = (await tapMac(lab, a.ns))!.toLowerCase();
    macB = (await tapMac(lab, b.ns))!.toLowerCase();
    macD = (await tapMac(lab, d.ns))!.toLowerCase();
    // Both obs edges list each other as direct before anything is measured.
    const p2p = await waitFor(async () => {
      await ping(lab, a.ns, B_IP, { count: 1, waitS: 1 });
      const [sa, sb] = await Promise.all([
        get(a.ns, `http://${a.ip}:${EDGE_HTTP_PORT}/api/v1/edges`, TOKEN),
        get(b.ns, `http://${b.ip}:${EDGE_HTTP_PORT}/api/v1/edges`, TOKEN),
      ]);
      const direct = (r: { body: string }): boolean =>
        r.body.startsWith('[') && (JSON.parse(r.body) as { path: string }[]).some((p) => p.path === 'p2p');
      return direct(sa) && direct(sb);
    }, P2P_TIMEOUT_MS);
    expect(p2p, 'the obs edges never went P2P').toBe(true);
  });

  afterAll(async () => {
    await prom?.stop();
    await lab?.destroy();
    if (lab) expect(lab.remaining()).toEqual([]);
    if (dir && process.env.TSN2N_KEEP_OBS_DIR === undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a non-loopback --http without a token: one line, exit 2', async () => {
    for (const args of [
      ['edge', '-c', 'x', '-l', SN_ADDR, '--http', `${c.ip}:${EDGE_HTTP_PORT}`],
      ['supernode', '-p', '7999', '-t', '5999', '--http', `${c.ip}:5999`],
    ]) {
      const r = await lab.run(c.ns, [process.execPath, MAIN_JS, ...args], { check: false });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^tsn2n: --http .* is not a loopback address: give --http-token/);
    }
  });

  it('Prometheus scrapes the supernode and both edges: tsn2n_edge_peers{path="p2p"} is 1 on each', async () => {
    mkdirSync(join(dir, 'prometheus-data'));
    const job = (name: string, targets: string[]): string =>
      `  - job_name: ${name}\n    authorization:\n      credentials: ${TOKEN}\n    static_configs:\n` +
      `      - targets: [${targets.map((x) => `'${x}'`).join(', ')}]\n`;
    writeFileSync(
      join(dir, 'prometheus.yml'),
      'global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n' +
        job('tsn2n-supernode', [`${SN_IP}:${SN_HTTP_PORT}`]) +
        job('tsn2n-edge', [`${a.ip}:${EDGE_HTTP_PORT}`, `${b.ip}:${EDGE_HTTP_PORT}`]),
    );
    const t0 = performance.now();
    prom = lab.spawn(
      'prometheus',
      sn.ns,
      [
        'prometheus',
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'prometheus-data')}`,
        `--web.listen-address=${PROM_ADDR}`,
        '--log.level=warn',
      ],
      { critical: true },
    );
    const ready = await waitFor(async () => {
      lab.assertNoCrash();
      return (await get(sn.ns, `http://${PROM_ADDR}/-/ready`)).status === 200;
    }, PROM_TIMEOUT_MS);
    expect(ready, `prometheus did not become ready:\n${prom.tail()}`).toBe(true);
    const up = await waitFor(async () => {
      const r = await query('up');
      return r.length === 3 && r.every((s) => s.value[1] === '1') ? r : undefined;
    }, PROM_TIMEOUT_MS);
    expect(up, `targets not all up: ${JSON.stringify(await query('up'))}`).toBeDefined();
    const peers = await waitFor(async () => {
      const r = await query('tsn2n_edge_peers{path="p2p"}');
      return r.length === 2 && r.every((s) => s.value[1] === '1') ? r : undefined;
    }, PROM_TIMEOUT_MS);
    expect(peers?.map((s) => s.metric.instance).sort()).toEqual([
      `${a.ip}:${EDGE_HTTP_PORT}`,
      `${b.ip}:${EDGE_HTTP_PORT}`,
    ]);
    const registered = await query('tsn2n_edge_supernode_registered');
    expect(registered.map((s) => s.value[1])).toEqual(['1', '1']);
    const edges = await query('tsn2n_supernode_edges');
    expect(Object.fromEntries(edges.map((s) => [s.metric.community, s.value[1]]))).toEqual({
      obsnet: '2',
      relaynet: '2',
    });
    const rtt = await query('tsn2n_edge_peer_rtt_seconds');
    expect(rtt.length).toBe(2);
    for (const s of rtt) expect(Number(s.value[1])).toBeLessThan(1);
    figure(
      'observability',
      `prometheus up and both edges p2p=1 in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
  });

  it("the supernode's relayed-packet counter rises in Prometheus while the -S1 edges talk", async () => {
    const value = async (): Promise<number> =>
      Number(
        (await query('tsn2n_supernode_relayed_packets_total{kind="unicast"}'))[0]?.value[1] ?? Number.NaN,
      );
    const before = await value();
    expect(Number.isFinite(before)).toBe(true);
    const PINGS = 10;
    const p = await ping(lab, c.ns, D_IP, { count: PINGS, intervalS: 0.2 });
    expect(p.received).toBe(PINGS);
    const after = await waitFor(async () => {
      const v = await value();
      return v >= before + 2 * PINGS ? v : undefined;
    }, PROM_TIMEOUT_MS);
    expect(after, `relayed counter stayed at ${await value()} (before ${before})`).toBeDefined();
    const rate = await query('rate(tsn2n_supernode_relayed_packets_total{kind="unicast"}[10s])');
    expect(Number(rate[0]?.value[1])).toBeGreaterThan(0);
    const relayPeers = await get(c.ns, `http://127.0.0.1:${EDGE_HTTP_PORT}/metrics`);
    expect(relayPeers.body).toMatch(/^tsn2n_edge_peers\{path="relay"\} 1$/m);
    figure('observability', `relayed unicast ${before} → ${after} after ${PINGS} pings c → d`);
  });

  it('promtool check metrics accepts the edge and the supernode endpoints', async () => {
    for (const [ns, url] of [
      [a.ns, `http://${a.ip}:${EDGE_HTTP_PORT}/metrics`],
      [sn.ns, `http://${SN_IP}:${SN_HTTP_PORT}/metrics`],
    ] as const) {
      const r = await get(ns, url, TOKEN);
      expect(r.status).toBe(200);
      expect(r.body).toContain('tsn2n_build_info{version=');
      const check = spawnSync('promtool', ['check', 'metrics'], { input: r.body, encoding: 'utf8' });
      expect(`${check.stdout}${check.stderr}`.trim(), url).toBe('');
      expect(check.status, url).toBe(0);
      // Without the token the same endpoint is closed.
      expect((await get(ns, url)).status).toBe(401);
    }
  });

  it('tsn2n status: HTTP with a token, the default and the -t address, the UDP management port', async () => {
    const withToken = await status(a.ns, [`${a.ip}:${EDGE_HTTP_PORT}`, '--token', TOKEN]);
    expect(withToken.code, withToken.stderr).toBe(0);
    expect(withToken.stdout).toMatch(new RegExp(`^edge: ${macA} {2}${A_IP}/24$`, 'm'));
    expect(withToken.stdout).toMatch(
      new RegExp(`^${macB} +${B_IP}/24 +p2p +${b.ip}:\\d+ +[\\d.]+ ms +\\S+ ago +beta$`, 'm'),
    );
    expect(withToken.stdout).toMatch(
      new RegExp(`supernode: ${SN_ADDR}, registered; public address ${a.ip}:\\d+`),
    );
    const json = await status(a.ns, [`${a.ip}:${EDGE_HTTP_PORT}`, '--token', TOKEN, '--json']);
    const j = JSON.parse(json.stdout) as {
      source: string;
      kind: string;
      peers: { mac: string; path: string; rttMs: number | null }[];
    };
    expect(j.source).toBe('http');
    expect(j.kind).toBe('edge');
    expect(j.peers).toEqual([expect.objectContaining({ mac: macB, path: 'p2p', rttMs: expect.any(Number) })]);
    const noToken = await status(a.ns, [`${a.ip}:${EDGE_HTTP_PORT}`]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/wants a token/);
    // c: the defaults (HTTP 127.0.0.1:5644 in its namespace); d: its -t port; c again over UDP only.
    const dflt = await status(c.ns, []);
    expect(dflt.code, dflt.stderr).toBe(0);
    // With -S1 no REGISTER is exchanged, so a relayed peer's overlay address stays unknown (as in 3.1.1).
    expect(dflt.stdout).toMatch(new RegExp(`^${macD} +- +relay +${d.ip}:\\d+ +- +`, 'm'));
    const viaT = await status(d.ns, [String(D_MGMT_PORT), '--json']);
    expect((JSON.parse(viaT.stdout) as { source: string; ip: string }).ip).toBe(`${D_IP}/24`);
    const udp = await status(c.ns, ['--udp']);
    expect(udp.code, udp.stderr).toBe(0);
    expect(udp.stdout).toMatch(new RegExp(`^${macD} +- +relay +${d.ip}:\\d+ +- +`, 'm'));
    expect(udp.stdout).toContain('127.0.0.1:5644 (from the UDP management port)');
    const snStatus = await status(sn.ns, [`${SN_IP}:${SN_HTTP_PORT}`, '--token', TOKEN]);
    expect(snStatus.code, snStatus.stderr).toBe(0);
    expect(snStatus.stdout).toMatch(/communities: 2, edges: 4/);
    expect(snStatus.stdout).toMatch(new RegExp(`^obsnet +${macA} +${A_IP}/24 +${a.ip}:\\d+ +UDP +`, 'm'));
    figure('observability', `tsn2n status of edge a:\n${withToken.stdout}`);
  });

  it('the status page in headless Chromium lists the peers with path, address and RTT, and refreshes', async () => {
    const playwright = pathToFileURL(createRequire(import.meta.url).resolve('playwright-core')).href;
    const driver = join(dir, 'browser.mjs');
    writeFileSync(driver, browserScript(playwright));
    const shots = mkdtempSync(join(tmpdir(), 'tsn2n-obs-shots-'));
    const open = async (
      url: string,
      name: string,
    ): Promise<{
      headers: string[];
      rows: string[][];
      cards: string[];
      title: string;
      before: string;
      after: string;
    }> => {
      const profile = mkdtempSync(join(dir, `chromium-${name}-`));
      const shot = join(shots, `${name}.png`);
      // Chromium runs in edge a's namespace, where both daemons' HTTP addresses are on the link.
      const r = await lab.run(a.ns, [process.execPath, driver, url, shot, profile], {
        timeoutMs: BROWSER_TIMEOUT_MS,
        check: false,
      });
      expect(r.code, `browser driver failed:\n${r.stderr.slice(-3000)}`).toBe(0);
      figure('observability', `status page screenshot: ${shot}`);
      return JSON.parse(r.stdout);
    };
    const edgePage = await open(`http://${a.ip}:${EDGE_HTTP_PORT}/#token=${TOKEN}`, 'edge-a');
    expect(edgePage.headers).toEqual(['MAC', 'IP', 'path', 'address', 'RTT', 'last seen', 'description']);
    expect(edgePage.rows).toHaveLength(1);
    const [mac, ip, path, address, rtt, , desc] = edgePage.rows[0];
    expect({ mac, ip, path, desc }).toEqual({ mac: macB, ip: `${B_IP}/24`, path: 'p2p', desc: 'beta' });
    expect(address).toMatch(new RegExp(`^${b.ip.replaceAll('.', '\\.')}:\\d+$`));
    expect(rtt).toMatch(/^[\d.]+ ms$/);
    expect(edgePage.title).toContain(macA);
    expect(edgePage.cards.join(' ')).toContain('registeredyes');
    expect(edgePage.after).not.toBe(edgePage.before);
    const snPage = await open(`http://${SN_IP}:${SN_HTTP_PORT}/#token=${TOKEN}`, 'supernode');
    expect(snPage.rows).toHaveLength(4);
    expect(snPage.rows.map((r) => r[0]).sort()).toEqual(['obsnet', 'obsnet', 'relaynet', 'relaynet']);
    expect(snPage.rows.map((r) => r[1])).toContain(macA);
  });

  it('hooks: registered and the peer up (p2p) on the edge; on stop peer_down and unregistered; edges up and down at the supernode', async () => {
    const edgeEvents = hookLines(hookLogA());
    expect(edgeEvents[0]).toMatchObject({
      TSN2N_EVENT: 'registered',
      TSN2N_DAEMON: 'edge',
      TSN2N_COMMUNITY: 'obsnet',
      TSN2N_SUPERNODE: SN_ADDR,
      TSN2N_PUBLIC_ADDR: expect.stringMatching(new RegExp(`^${a.ip}:\\d+$`)),
      TSN2N_EDGE_MAC: macA,
      TSN2N_EDGE_IP: A_IP,
    });
    const up = edgeEvents.find((e) => e.TSN2N_EVENT === 'peer_up');
    expect(up).toMatchObject({ TSN2N_PEER_MAC: macB });
    // Up relayed then turned p2p, or up p2p at once; by now the peer is direct with its address known.
    const direct = edgeEvents.find(
      (e) =>
        e.TSN2N_PEER_MAC === macB &&
        e.TSN2N_PATH === 'p2p' &&
        ['peer_up', 'peer_path', 'peer_update'].includes(e.TSN2N_EVENT),
    );
    expect(direct).toBeDefined();
    expect(
      edgeEvents.some(
        (e) => e.TSN2N_PEER_MAC === macB && e.TSN2N_PEER_IP === B_IP && e.TSN2N_PEER_DESC === 'beta',
      ),
    ).toBe(true);
    await pa.stop('SIGTERM', EDGE_STOP_GRACE_MS);
    expect(pa.exitCode, pa.tail()).toBe(0);
    const after = hookLines(hookLogA()).slice(edgeEvents.length);
    expect(after).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          TSN2N_EVENT: 'peer_down',
          TSN2N_PEER_MAC: macB,
          TSN2N_PEER_IP: B_IP,
          TSN2N_PATH: 'p2p',
          TSN2N_REASON: 'stop',
        }),
        expect.objectContaining({
          TSN2N_EVENT: 'unregistered',
          TSN2N_SUPERNODE: SN_ADDR,
          TSN2N_REASON: 'stop',
        }),
      ]),
    );
    const snDown = await waitFor(async () => {
      const lines = hookLines(hookLogSn());
      return lines.find((e) => e.TSN2N_EVENT === 'peer_down' && e.TSN2N_PEER_MAC === macA);
    }, HOOK_TIMEOUT_MS);
    expect(snDown).toMatchObject({
      TSN2N_DAEMON: 'supernode',
      TSN2N_COMMUNITY: 'obsnet',
      TSN2N_PEER_IP: A_IP,
      TSN2N_REASON: 'unregister',
    });
    const snUps = hookLines(hookLogSn()).filter((e) => e.TSN2N_EVENT === 'peer_up');
    expect(snUps.map((e) => e.TSN2N_COMMUNITY).sort()).toEqual(['obsnet', 'obsnet', 'relaynet', 'relaynet']);
    assertAlive(psn, pb);
  });
});
