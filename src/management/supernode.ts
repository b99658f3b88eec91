// The supernode's management port (spec §13, sn_management.c): legacy text status and the JSON commands.
import type { UdpSocket } from '../io/types.js';
import type { Community, SnPeer } from '../supernode/community.js';
import { DropReason } from '../supernode/stats.js';
import type { EdgeInfo, Supernode, UnregisterReason } from '../supernode/supernode.js';
import { type SockAddr, sockAddrToString } from '../util/ip.js';
import { macToString, NULL_MAC } from '../util/mac.js';
import {
  DEFAULT_MGMT_PASSWORD,
  helpCommand,
  helpEventsCommand,
  ManagementServer,
  type MgmtCommand,
  MgmtError,
  type MgmtTopic,
  MgmtType,
  mgmtPasswordHash,
  padLeft,
  padRight,
  postTestCommand,
  verboseCommand,
} from './core.js';

/** Peer event actions (n2n_define.h: N2N_EVENT_PEER_*), as the edge posts them. */
export const PeerEventAction = { PURGE: 1, CLEAR: 2, DELETE: 3, ADD: 4 } as const;

/** Topics for `s` requests (3.1.1's supernode has none; these mirror the edge's). */
export const SUPERNODE_TOPICS: readonly MgmtTopic[] = [
  { name: 'debug', help: 'All events - for event debugging' },
  { name: 'test', help: 'Used only by post.test' },
  { name: 'peer', help: 'Changes to the edge list' },
];

/** Reused from sn_management.c so scripts that scrape the text output keep working. */
const TABLE_HEADER =
  ' ### | TAP                 | MAC               | EDGE                      | HINT            | LAST SEEN\n';
const TABLE_RULE = `${'='.repeat(104)}\n`;
const TABLE_SEPARATOR = `${'-'.repeat(104)}\n`;
const LEGACY_HELP =
  'Help for supernode management console:\n' +
  '\thelp                 | This help message\n' +
  "\treload_communities   | Reloads communities and user's public keys\n" +
  '\t<enter>              | Display status and statistics\n';

function ipText(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

function macText(mac: number): string {
  return mac === NULL_MAC ? '' : macToString(mac).toUpperCase();
}

function sockText(p: SnPeer): string {
  return p.addr ? sockAddrToString(p.addr) : (p.hostSpec ?? '');
}

function descText(p: SnPeer): string {
  let n = p.desc.indexOf(0);
  if (n < 0) n = p.desc.length;
  return Buffer.from(p.desc.buffer, p.desc.byteOffset, n).toString('latin1');
}

function communityText(c: Community): string {
  return c.isFederation ? '-/-' : c.name;
}

/** The rows of `r … communities` (sn_management.c: mgmt_communities). */
export function communityRows(sn: Supernode): Record<string, string | number>[] {
  return sn.communityList().map((c) => ({
    community: communityText(c),
    // COMMUNITY_UNPURGEABLE = 0, COMMUNITY_PURGEABLE = 1
    purgeable: c.purgeable ? 1 : 0,
    is_federation: c.isFederation ? 1 : 0,
    ip4addr: c.netAddr === 0 ? '' : `${ipText(c.netAddr)}/${c.netBits}`,
  }));
}

/** The rows of `r … edges` (sn_management.c: mgmt_edges), federation members included as community "-/-". */
export function edgeRows(sn: Supernode): Record<string, string | number>[] {
  const rows: Record<string, string | number>[] = [];
  for (const c of sn.communityList()) {
    for (const p of c.edges.values()) {
      rows.push({
        community: communityText(c),
        ip4addr: p.devAddr === 0 ? '' : `${ipText(p.devAddr)}/${p.devBits}`,
        // SN_PURGEABLE = 0, SN_UNPURGEABLE = 1 (only `-l` supernodes)
        purgeable: p.purgeable ? 0 : 1,
        macaddr: macText(p.mac),
        sockaddr: sockText(p),
        proto: p.conn !== undefined ? 'TCP' : 'UDP',
        desc: descText(p),
        last_seen: p.lastSeen,
      });
    }
  }
  return rows;
}

/**
 * The rows of `r … packetstats`: 3.1.1's four, then (once it forwarded something) `native_relay` with the part of
 * `forward` the native relay made, then one `drop` row per reason.
 */
export function packetStatRows(sn: Supernode): Record<string, string | number>[] {
  const s = sn.stats;
  const rows: Record<string, string | number>[] = [
    { type: 'forward', tx_pkt: s.fwd },
    { type: 'broadcast', tx_pkt: s.broadcast },
    { type: 'reg_super', rx_pkt: s.regSuper, nak: s.regSuperNak },
    { type: 'errors', tx_pkt: s.errors },
  ];
  if (s.nativeFwd > 0) rows.push({ type: 'native_relay', tx_pkt: s.nativeFwd });
  for (const r of Object.values(DropReason)) rows.push({ type: 'drop', reason: r, rx_pkt: s.drops[r] });
  return rows;
}

/** The legacy status dump: one datagram per community header, one per edge, one summary (process_mgmt). */
export function legacyStatus(sn: Supernode): string[] {
  const out: string[] = [];
  const now = sn.nowSec();
  let buf = TABLE_HEADER + TABLE_RULE;
  let numComm = 0;
  let numEdges = 0;
  for (const c of sn.communityList()) {
    if (numComm) buf += TABLE_SEPARATOR;
    numComm++;
    numEdges += c.edges.size;
    const kind = c.isFederation ? 'FEDERATION' : c.purgeable ? 'COMMUNITY' : 'FIXED NAME COMMUNITY';
    buf += `${kind} '${communityText(c)}'\n`;
    out.push(buf);
    buf = '';
    let num = 0;
    for (const p of c.edges.values()) {
      num++;
      const tap = p.devAddr === 0 ? (!p.purgeable ? '-l' : '') : `${ipText(p.devAddr)}/${p.devBits}`;
      const seen = p.lastSeen ? padLeft(String(now - p.lastSeen), 9) : '';
      out.push(
        `${padLeft(String(num), 4)} | ${padRight(tap, 19)} | ${padRight(macText(p.mac), 17)} | ${padRight(sockText(p), 21)} ${padRight(p.conn !== undefined ? 'TCP' : '', 3)} | ${padRight(descText(p), 15)} | ${padLeft(seen, 9)}\n`,
      );
    }
  }
  const s = sn.stats;
  buf += TABLE_RULE;
  buf += `uptime ${now - sn.startTime} | edges ${numEdges} | reg_sup ${s.regSuper} | reg_nak ${s.regSuperNak} | errors ${s.errors} \n`;
  buf += `fwd ${s.fwd} | broadcast ${s.broadcast} | cur_cmnts ${sn.communityList().length}\n`;
  buf += `last_fwd  ${now - s.lastFwd} sec ago | last reg  ${now - s.lastRegSuper} sec ago\n\n`;
  const drops = Object.values(DropReason)
    .filter((r) => s.drops[r] > 0)
    .map((r) => `${r} ${s.drops[r]}`);
  buf += `rx ${s.rx} | dropped ${s.dropped}${drops.length ? ` (${drops.join(' | ')})` : ''}\n`;
  out.push(buf);
  return out;
}

export interface SupernodeManagementOptions {
  /** Write password (`--management-password`), default "n2n". */
  password?: string;
  /** Called after a `w … stop` request was answered (the supernode is being stopped). */
  onStop?: () => void;
}

/**
 * Serves a supernode's management socket. The JSON keys and texts follow 3.1.1 (scripts/n2n-ctl works
 * unchanged); additions: `supernodes` lists the federation, `packetstats` has drop rows, and `s` requests
 * with the topics above.
 */
export class SupernodeManagement {
  readonly server: ManagementServer<Supernode>;
  readonly supernode: Supernode;
  private readonly unsubscribe: () => void;

  constructor(sn: Supernode, socket: UdpSocket, options: SupernodeManagementOptions = {}) {
    this.supernode = sn;
    const commands: MgmtCommand<Supernode>[] = [
      {
        cmd: 'supernodes',
        help: 'List federated supernodes',
        run: (s, _req, reply) => {
          for (const p of s.federation.edges.values()) {
            reply.row({
              community: s.federation.name,
              purgeable: p.purgeable ? 0 : 1,
              macaddr: macText(p.mac),
              sockaddr: sockText(p),
              last_seen: p.lastSeen,
            });
          }
        },
      },
      {
        cmd: 'stop',
        help: 'Gracefully exit supernode',
        writeOk: true,
        run: (s, req, reply) => {
          const stopping = req.type === MgmtType.WRITE;
          reply.row({ keep_running: stopping || !s.running ? 0 : 1 });
          if (stopping) {
            queueMicrotask(() => {
              void s.stop().then(() => options.onStop?.());
            });
          }
        },
      },
      verboseCommand<Supernode>({
        get: (s) => Math.max(0, s.logger.level),
        set: (s, level) => {
          s.logger.level = level;
        },
      }),
      {
        cmd: 'reload_communities',
        help: "Reloads communities and user's public keys",
        writeOk: true,
        run: (s, req, reply) => {
          if (req.type !== MgmtType.WRITE) {
            reply.error(MgmtError.WRITEONLY);
            return;
          }
          if (s.config.communityFile === undefined) {
            reply.error(MgmtError.NOFILE);
            return;
          }
          reply.row({ ok: s.reloadCommunities() });
        },
      },
      {
        cmd: 'communities',
        help: 'List current communities',
        run: (s, _req, reply) => {
          for (const r of communityRows(s)) reply.row(r);
        },
      },
      {
        cmd: 'edges',
        help: 'List current edges/peers',
        run: (s, _req, reply) => {
          for (const r of edgeRows(s)) reply.row(r);
        },
      },
      {
        cmd: 'timestamps',
        help: 'Event timestamps',
        run: (s, _req, reply) => {
          reply.row({
            start_time: s.startTime,
            last_fwd: s.stats.lastFwd,
            last_reg_super: s.stats.lastRegSuper,
          });
        },
      },
      {
        cmd: 'packetstats',
        help: 'Traffic statistics',
        run: (s, _req, reply) => {
          for (const r of packetStatRows(s)) reply.row(r);
        },
      },
      helpCommand(() => commands),
      helpEventsCommand(() => this.server),
      postTestCommand(() => this.server),
    ];
    this.server = new ManagementServer<Supernode>(socket, {
      context: sn,
      passwordHash: mgmtPasswordHash(options.password ?? DEFAULT_MGMT_PASSWORD),
      commands,
      topics: SUPERNODE_TOPICS,
      jsonDetect: 'rw',
      endIncludesCmd: false,
      legacy: (s, text, from, send) => this.legacy(s, text, from, send),
    });
    const post = (action: number, e: EdgeInfo): void =>
      this.server.post('peer', { action, macaddr: e.mac, sockaddr: e.sockaddr });
    const onAdd = (e: EdgeInfo): void => post(PeerEventAction.ADD, e);
    const onExpire = (e: EdgeInfo): void => post(PeerEventAction.PURGE, e);
    const onDel = (e: EdgeInfo, reason: UnregisterReason): void =>
      post(reason === 'reload' ? PeerEventAction.CLEAR : PeerEventAction.DELETE, e);
    sn.on('edgeRegistered', onAdd);
    sn.on('edgeExpired', onExpire);
    sn.on('edgeUnregistered', onDel);
    this.unsubscribe = () => {
      sn.off('edgeRegistered', onAdd);
      sn.off('edgeExpired', onExpire);
      sn.off('edgeUnregistered', onDel);
    };
  }

  /** The bound management address. */
  get address(): SockAddr {
    return this.server.address;
  }

  private legacy(s: Supernode, text: string, _from: SockAddr, send: (t: string) => void): void {
    if (text.startsWith('help') || text.startsWith('?')) {
      send(LEGACY_HELP);
      return;
    }
    if (text.startsWith('reload_communities')) {
      if (s.config.communityFile === undefined) {
        send('No community file provided (-c command line option)\n');
        return;
      }
      if (s.reloadCommunities() !== 0) {
        send('Error while re-loading community file (not found or no valid content)\n');
        return;
      }
      send('OK.\n');
      return;
    }
    for (const d of legacyStatus(s)) send(d);
  }

  close(): void {
    this.unsubscribe();
    this.server.close();
  }
}
