// `tsn2n status`'s client: a daemon's state from its HTTP API or its UDP management port, and the table it prints.
//
// The UDP path speaks n2n 3.1.1's JSON reads, so it also reads a C 3.1.1 edge or supernode; the table is like
// `wg show`.
import { createSocket } from 'node:dgram';
import { request } from 'node:http';
import type {
  EdgeStatusView,
  EdgeSupernodeView,
  PeerView,
  SnCommunityView,
  SnEdgeView,
  SupernodeStatusView,
} from './views.js';

export type StatusView = EdgeStatusView | SupernodeStatusView;

/** Where a status came from. */
export interface StatusReport {
  source: 'http' | 'udp';
  /** host:port asked. */
  address: string;
  status: StatusView;
}

/** Failures worth telling apart: nothing listens (try the next way), or it answered but refused us. */
export class StatusError extends Error {
  constructor(
    message: string,
    readonly unreachable: boolean,
  ) {
    super(message);
    this.name = 'StatusError';
  }
}

/** How long one HTTP request or one UDP management exchange may take. */
export const STATUS_TIMEOUT_MS = 2000;
/** JSON tags of the UDP requests: short (the edge keeps 9 characters), one per command. */
const UDP_COMMANDS = ['edges', 'supernodes', 'packetstats', 'timestamps', 'communities'] as const;
type UdpCommand = (typeof UDP_COMMANDS)[number];
type Row = Record<string, unknown>;
const MS_PER_S = 1000;
/** Characters of an error answer quoted in the message. */
const ERROR_TEXT_MAX_CHARS = 200;

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** GET /api/v1/status. */
export function fetchHttpStatus(
  host: string,
  port: number,
  token: string | undefined,
  timeoutMs = STATUS_TIMEOUT_MS,
): Promise<StatusReport> {
  const address = hostPort(host, port);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path: '/api/v1/status',
        method: 'GET',
        headers: token !== undefined ? { Authorization: `Bearer ${token}` } : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 401) {
            reject(
              new StatusError(`${address}: the daemon wants a token (--token or TSN2N_HTTP_TOKEN)`, false),
            );
            return;
          }
          if (res.statusCode !== 200) {
            reject(
              new StatusError(
                `${address}: HTTP ${res.statusCode}: ${text.trim().slice(0, ERROR_TEXT_MAX_CHARS)}`,
                false,
              ),
            );
            return;
          }
          try {
            const status = JSON.parse(text) as StatusView;
            if (status.kind !== 'edge' && status.kind !== 'supernode') throw new Error('not a tsn2n status');
            resolve({ source: 'http', address, status });
          } catch (err) {
            reject(new StatusError(`${address}: unexpected answer (${(err as Error).message})`, false));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => reject(new StatusError(`${address}: ${err.message}`, true)));
    req.end();
  });
}

/** Sends the UDP management reads and collects their rows; a command that errs or does not end stays undefined. */
function udpRows(host: string, port: number, timeoutMs: number): Promise<Partial<Record<UdpCommand, Row[]>>> {
  return new Promise((resolve) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const rows = new Map<string, Row[]>();
    const done = new Map<string, boolean>();
    const finish = (): void => {
      clearTimeout(timer);
      sock.close();
      const out: Partial<Record<UdpCommand, Row[]>> = {};
      UDP_COMMANDS.forEach((cmd, i) => {
        if (done.get(String(i + 1))) out[cmd] = rows.get(String(i + 1)) ?? [];
      });
      resolve(out);
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on('error', finish);
    sock.on('message', (msg) => {
      for (const line of msg.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        let o: Row;
        try {
          o = JSON.parse(line) as Row;
        } catch {
          continue;
        }
        const tag = String(o._tag);
        if (o._type === 'row') rows.set(tag, [...(rows.get(tag) ?? []), o]);
        else if (o._type === 'end') done.set(tag, true);
        else if (o._type === 'error') done.set(tag, false);
      }
      if (done.size === UDP_COMMANDS.length) finish();
    });
    sock.bind(0, () => {
      UDP_COMMANDS.forEach((cmd, i) => {
        sock.send(Buffer.from(`r ${i + 1} ${cmd}\n`), port, host);
      });
    });
  });
}

const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v));
const num = (v: unknown): number => {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
};

/**
 * The status of a daemon from its UDP management port (n2n 3.1.1's JSON API: edges, supernodes, packetstats,
 * timestamps, communities). What that API does not say (our MAC and address, bytes, RTT) stays empty.
 */
export async function fetchUdpStatus(
  host: string,
  port: number,
  timeoutMs = STATUS_TIMEOUT_MS,
  now: () => number = () => Math.floor(Date.now() / MS_PER_S),
): Promise<StatusReport> {
  const address = hostPort(host, port);
  const r = await udpRows(host, port, timeoutMs);
  const stats = r.packetstats;
  if (stats === undefined) throw new StatusError(`${address}: no answer on the UDP management port`, true);
  const type = (t: string): Row => stats.find((x) => x._type === 'row' && x.type === t) ?? {};
  const ts = r.timestamps?.[0] ?? {};
  if (stats.some((x) => x.type === 'forward')) {
    const edges: SnEdgeView[] = (r.edges ?? [])
      .filter((e) => e.community !== '-/-')
      .map((e) => ({
        community: str(e.community),
        mac: str(e.macaddr).toLowerCase(),
        ip: str(e.ip4addr),
        sockaddr: str(e.sockaddr),
        proto: str(e.proto) === 'TCP' ? 'TCP' : 'UDP',
        desc: str(e.desc),
        lastSeen: num(e.last_seen),
      }));
    const communities: SnCommunityView[] = (r.communities ?? [])
      .filter((c) => num(c.is_federation) === 0)
      .map((c) => ({
        name: str(c.community),
        purgeable: num(c.purgeable) === 1,
        subnet: str(c.ip4addr),
        edges: edges.filter((e) => e.community === str(c.community)).length,
      }));
    const status: SupernodeStatusView = {
      kind: 'supernode',
      version: '',
      mac: '',
      listen: '',
      running: true,
      now: now(),
      startTime: num(ts.start_time),
      federation: {
        name: str(r.supernodes?.[0]?.community),
        peers: (r.supernodes ?? []).map((p) => ({
          mac: str(p.macaddr).toLowerCase(),
          sockaddr: str(p.sockaddr),
          configured: num(p.purgeable) === 1,
          lastSeen: num(p.last_seen),
        })),
      },
      communities,
      edges,
      stats: {
        rxPackets: 0,
        forwarded: num(type('forward').tx_pkt),
        broadcast: num(type('broadcast').tx_pkt),
        registrations: num(type('reg_super').rx_pkt),
        registrationsOk: 0,
        registrationsNak: num(type('reg_super').nak),
        sendErrors: num(type('errors').tx_pkt),
        lastForward: num(ts.last_fwd),
        lastRegistration: num(ts.last_reg_super),
      },
      drops: {},
    };
    return { source: 'udp', address, status };
  }
  const supernodes: EdgeSupernodeView[] = (r.supernodes ?? []).map((s) => ({
    address: str(s.sockaddr),
    sockaddr: str(s.sockaddr),
    mac: str(s.macaddr).toLowerCase(),
    version: str(s.version),
    current: num(s.current) !== 0,
    configured: num(s.purgeable) === 1,
    selection: str(s.selection),
    lastSeen: num(s.last_seen),
    uptime: num(s.uptime),
  }));
  const current = (r.supernodes ?? []).find((s) => num(s.current) !== 0);
  const peers: PeerView[] = (r.edges ?? []).map((p) => ({
    mac: str(p.macaddr).toLowerCase(),
    ip: str(p.ip4addr),
    path: str(p.mode) === 'p2p' ? 'p2p' : 'relay',
    sockaddr: str(p.sockaddr),
    preferred: '',
    desc: str(p.desc),
    local: num(p.local) === 1,
    lastSeen: num(p.last_seen),
    lastP2p: num(p.last_p2p),
    rttMs: null,
    rttLastMs: null,
    rttAt: 0,
  }));
  const traffic = (t: string): { tx: number; rx: number } => ({
    tx: num(type(t).tx_pkt),
    rx: num(type(t).rx_pkt),
  });
  const community = r.communities?.[0]?.community;
  const status: EdgeStatusView = {
    kind: 'edge',
    version: '',
    community: community === undefined ? null : str(community),
    headerEncryption: r.communities === undefined,
    device: '',
    mac: '',
    ip: '',
    state: 'running',
    now: now(),
    startTime: num(ts.start_time),
    // current 1 = registered, 2 = waiting for the ACK (edge_management.c: mgmt_supernodes).
    registered: current !== undefined && num(current.current) === 1,
    supernode: current === undefined ? null : str(current.sockaddr),
    publicAddr: null,
    lastSuper: num(ts.last_super),
    lastP2p: num(ts.last_p2p),
    supernodes,
    peers,
    traffic: {
      p2p: { txPackets: traffic('p2p').tx, rxPackets: traffic('p2p').rx, txBytes: 0, rxBytes: 0 },
      relay: { txPackets: traffic('super').tx, rxPackets: traffic('super').rx, txBytes: 0, rxBytes: 0 },
      broadcast: { txPackets: traffic('super_broadcast').tx, rxPackets: traffic('super_broadcast').rx },
      transform: { txPackets: traffic('transop').tx, rxPackets: traffic('transop').rx },
    },
    drops: {},
  };
  return { source: 'udp', address, status };
}

// ---------------------------------------------------------------- text

const KIB = 1024;
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
const S_PER_MIN = 60;
const S_PER_HOUR = 3600;
const S_PER_DAY = 86400;
/** Columns are separated by this many spaces. */
const COLUMN_GAP = 2;

export function formatBytes(n: number): string {
  let v = n;
  let i = 0;
  while (v >= KIB && i < UNITS.length - 1) {
    v /= KIB;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${UNITS[i]}`;
}

export function formatDuration(s: number): string {
  if (s < S_PER_MIN) return `${s}s`;
  if (s < S_PER_HOUR) return `${Math.floor(s / S_PER_MIN)}m ${s % S_PER_MIN}s`;
  if (s < S_PER_DAY) return `${Math.floor(s / S_PER_HOUR)}h ${Math.floor((s % S_PER_HOUR) / S_PER_MIN)}m`;
  return `${Math.floor(s / S_PER_DAY)}d ${Math.floor((s % S_PER_DAY) / S_PER_HOUR)}h`;
}

function ago(now: number, t: number): string {
  return t ? `${formatDuration(Math.max(0, now - t))} ago` : 'never';
}

function rtt(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
}

/** Left-aligned columns; the last column is not padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] + COLUMN_GAP)))
      .join('')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function version(v: string): string {
  return v === '' ? '' : `  (tsn2n ${v})`;
}

function orDash(s: string | null): string {
  return s === null || s === '' ? '-' : s;
}

function renderEdge(s: EdgeStatusView, udp: boolean): string {
  const out: string[] = [];
  const id = [s.mac, s.ip].filter((x) => x !== '').join('  ');
  out.push(`edge: ${orDash(id)}`);
  out.push(
    `  community: ${s.headerEncryption ? '(header encrypted)' : orDash(s.community)}${s.device ? `  device: ${s.device}` : ''}`,
  );
  out.push(
    `  state: ${s.state}, up ${formatDuration(Math.max(0, s.now - s.startTime))}${version(s.version)}`,
  );
  out.push(
    `  supernode: ${orDash(s.supernode)}${s.registered ? ', registered' : ', not registered'}` +
      (udp ? '' : `; public address ${s.publicAddr ?? 'unknown'}`),
  );
  const t = s.traffic;
  const path = (name: string, p: typeof t.p2p): string =>
    udp
      ? `${name} tx ${p.txPackets} rx ${p.rxPackets} pkts`
      : `${name} tx ${p.txPackets} pkts (${formatBytes(p.txBytes)}) rx ${p.rxPackets} pkts (${formatBytes(p.rxBytes)})`;
  out.push(`  traffic: ${path('p2p', t.p2p)}; ${path('relay', t.relay)}`);
  out.push('');
  if (s.peers.length === 0) out.push('no peers');
  else {
    out.push(
      formatTable(
        ['PEER', 'IP', 'PATH', 'ADDRESS', 'RTT', 'LAST SEEN', 'DESC'],
        s.peers.map((p) => [
          p.mac,
          orDash(p.ip),
          p.path,
          orDash(p.sockaddr),
          rtt(p.rttMs),
          ago(s.now, p.lastSeen),
          p.desc,
        ]),
      ),
    );
  }
  return out.join('\n');
}

function renderSupernode(s: SupernodeStatusView): string {
  const out: string[] = [];
  const st = s.stats;
  out.push(`supernode: ${orDash([s.mac, s.listen].filter((x) => x !== '').join('  '))}`);
  out.push(`  up ${formatDuration(Math.max(0, s.now - s.startTime))}${version(s.version)}`);
  out.push(
    `  communities: ${s.communities.length}, edges: ${s.edges.length}, federation ${orDash(s.federation.name)} with ${s.federation.peers.length} peer(s)`,
  );
  out.push(
    `  relayed: ${st.forwarded} unicast, ${st.broadcast} broadcast; registrations: ${st.registrations} (${st.registrationsNak} refused)`,
  );
  out.push('');
  if (s.edges.length === 0) out.push('no edges');
  else {
    out.push(
      formatTable(
        ['COMMUNITY', 'EDGE', 'IP', 'ADDRESS', 'PROTO', 'LAST SEEN', 'DESC'],
        s.edges.map((e) => [
          e.community,
          e.mac,
          orDash(e.ip),
          orDash(e.sockaddr),
          e.proto,
          ago(s.now, e.lastSeen),
          e.desc,
        ]),
      ),
    );
  }
  return out.join('\n');
}

/** The text `tsn2n status` prints. */
export function renderStatus(report: StatusReport): string {
  const s = report.status;
  const body = s.kind === 'edge' ? renderEdge(s, report.source === 'udp') : renderSupernode(s);
  const via = report.source === 'udp' ? ' (from the UDP management port)' : '';
  return `${body}\n${via ? `\n${report.address}${via}\n` : ''}`;
}
