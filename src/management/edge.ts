// The edge's management port (spec §13, edge_management.c): legacy text commands and the JSON API over the core.
import type { Edge, PeerEvent } from '../edge/edge.js';
import type { Peer } from '../edge/peers.js';
import { criterionText } from '../edge/supernodes.js';
import type { UdpSocket } from '../io/types.js';
import { numberToIpv4, type SockAddr, sockAddrToString } from '../util/ip.js';
import { macToString, NULL_MAC } from '../util/mac.js';
import {
  DEFAULT_MGMT_PASSWORD,
  helpCommand,
  helpEventsCommand,
  ManagementServer,
  type MgmtCommand,
  MgmtError,
  type MgmtFields,
  MgmtType,
  mgmtPasswordHash,
  padLeft,
  padRight,
  postTestCommand,
  verboseCommand,
} from './core.js';

/** n2n_define.h: N2N_EDGE_MGMT_PORT. */
export const EDGE_MGMT_PORT = 5644;
/** The edge truncates JSON tags to 9 characters (edge_management.c: mgmt_req_t.tag[10]). */
const EDGE_TAG_MAX_CHARS = 9;
/** n2n's peer_info.purgeable values: 0 = SN_PURGEABLE, 1 = SN_UNPURGEABLE (n2n_define.h). */
const SN_PURGEABLE = 0;
const SN_UNPURGEABLE = 1;
const TABLE_RULE = '='.repeat(109);
const TABLE_SEPARATOR = '-'.repeat(109);

export interface EdgeManagementOptions {
  /** `--management-password`, default `n2n`. */
  password?: string;
  /** Called for `stop` (legacy or JSON write); the default calls `edge.stop()`. */
  onStop?: () => void;
  /** Unix seconds now; default the edge's clock. */
  now?: () => number;
}

interface Ctx {
  edge: Edge;
  stop: () => void;
  now: () => number;
  /** Set once `stop` was requested (JSON `stop` reports keep_running 0). */
  stopping: boolean;
}

/** Upper-case hex like C's macaddr_str (%02X), so scripts comparing with C edges see the same text. */
function mac(m: number): string {
  return m === NULL_MAC ? '' : macToString(m).toUpperCase();
}

function sock(a: SockAddr | undefined): string {
  return a === undefined ? '' : sockAddrToString(a);
}

function peerRow(p: Peer, mode: string): MgmtFields {
  return {
    mode,
    ip4addr: p.devAddr === 0 ? '' : `${numberToIpv4(p.devAddr)}/${p.devBits}`,
    purgeable: SN_PURGEABLE,
    local: p.local ? 1 : 0,
    macaddr: mac(p.mac),
    sockaddr: sock(p.addr),
    desc: p.desc,
    last_p2p: p.lastP2p,
    last_sent_query: p.lastSentQuery,
    last_seen: p.lastSeen,
  };
}

const COMMANDS: readonly MgmtCommand<Ctx>[] = [
  {
    cmd: 'reload_communities',
    help: 'Reserved for supernode',
    writeOk: true,
    run(_ctx, _req, reply) {
      reply.error(MgmtError.UNIMPLEMENTED);
    },
  },
  {
    cmd: 'stop',
    help: 'Gracefully exit edge',
    writeOk: true,
    run(ctx, req, reply) {
      if (req.type === MgmtType.WRITE) ctx.stopping = true;
      reply.row({ keep_running: ctx.stopping ? 0 : 1 });
      // Stop after the reply (and the core's `end`) are out.
      if (req.type === MgmtType.WRITE) queueMicrotask(ctx.stop);
    },
  },
  verboseCommand<Ctx>({
    get: (ctx) => Math.max(0, ctx.edge.logger.level),
    set: (ctx, level) => {
      ctx.edge.logger.level = level;
    },
  }),
  {
    cmd: 'communities',
    help: 'Show current community',
    run(ctx, _req, reply) {
      if (ctx.edge.headerEncryption) {
        reply.error(MgmtError.NOACCESS);
        return;
      }
      reply.row({ community: ctx.edge.config.community });
    },
  },
  {
    cmd: 'edges',
    help: 'List current edges/peers',
    run(ctx, _req, reply) {
      const t = ctx.edge.peerTables();
      for (const p of t.pending) reply.row(peerRow(p, 'pSp'));
      for (const p of t.known) reply.row(peerRow(p, 'p2p'));
    },
  },
  {
    cmd: 'supernodes',
    help: 'List current supernodes',
    run(ctx, _req, reply) {
      const e = ctx.edge;
      for (const sn of e.supernodeList()) {
        const current = sn === e.currentSupernode;
        reply.row({
          version: sn.version,
          purgeable: sn.purgeable ? SN_PURGEABLE : SN_UNPURGEABLE,
          current: current ? (e.supernodeWait !== 0 ? 2 : 1) : 0,
          macaddr: mac(sn.mac),
          sockaddr: sock(sn.addr),
          selection: criterionText(sn, e.config.selection, current),
          last_seen: sn.lastSeen,
          uptime: sn.uptime,
        });
      }
    },
  },
  {
    cmd: 'timestamps',
    help: 'Event timestamps',
    run(ctx, _req, reply) {
      const e = ctx.edge;
      reply.row({ start_time: e.startTime, last_super: e.lastSup, last_p2p: e.lastP2p });
    },
  },
  {
    cmd: 'packetstats',
    help: 'traffic counters',
    run(ctx, _req, reply) {
      const t = ctx.edge.traffic;
      reply.row({ type: 'transop', tx_pkt: t.transopTx, rx_pkt: t.transopRx });
      reply.row({ type: 'p2p', tx_pkt: t.txP2p, rx_pkt: t.rxP2p });
      reply.row({ type: 'super', tx_pkt: t.txSup, rx_pkt: t.rxSup });
      reply.row({ type: 'super_broadcast', tx_pkt: t.txSupBroadcast, rx_pkt: t.rxSupBroadcast });
      // Not in 3.1.1, so only with --mss-clamp: TCP SYNs whose MSS was lowered, TAP → network / network → TAP.
      if (ctx.edge.config.mssClamp !== undefined)
        reply.row({ type: 'mss_clamp', tx_pkt: t.mssClampTx, rx_pkt: t.mssClampRx });
      // Not in 3.1.1, so only once it carried something: PACKETs the native fast path handled (among p2p).
      if (t.fastRx > 0 || t.fastTx > 0) reply.row({ type: 'fastpath', tx_pkt: t.fastTx, rx_pkt: t.fastRx });
    },
  },
  {
    // Not in 3.1.1: tsn2n's per-reason drop counters (rows only for reasons that occurred).
    cmd: 'drops',
    help: 'Dropped frames and datagrams by reason (tsn2n)',
    run(ctx, _req, reply) {
      for (const [reason, count] of Object.entries(ctx.edge.drops)) {
        if (typeof count === 'number' && count > 0) reply.row({ reason, count });
      }
    },
  },
];

const LEGACY_HELP =
  'Help for edge management console:\n' +
  '\tstop    | Gracefully exit edge\n' +
  '\thelp    | This help message\n' +
  '\t+verb   | Increase verbosity of logging\n' +
  '\t-verb   | Decrease verbosity of logging\n' +
  '\tr ...   | start query with JSON reply\n' +
  '\tw ...   | start update with JSON reply\n' +
  '\ts ...   | subscribe to event channel JSON reply\n' +
  '\t<enter> | Display statistics\n\n';

/** One row of the legacy peer tables: `%4u | %-15s | %-17s | %-21s | %-15s | %9s |`. */
function legacyPeerLine(n: number, p: Peer, now: number): string {
  return (
    `${padLeft(String(n), 4)} | ${padRight(p.devAddr === 0 ? '' : numberToIpv4(p.devAddr), 15)} | ` +
    `${padRight(mac(p.mac), 17)} | ${padRight(sock(p.addr), 21)} | ${padRight(p.desc, 15)} | ` +
    `${padLeft(p.lastSeen ? String(now - p.lastSeen) : '', 9)} |\n`
  );
}

/** The legacy status dump, one datagram per peer/supernode line like edge_management.c: readFromMgmtSocket. */
function legacyStatus(ctx: Ctx, send: (text: string) => void): void {
  const e = ctx.edge;
  const now = ctx.now();
  let msg =
    `COMMUNITY '${e.headerEncryption ? '-- header encrypted --' : e.config.community}'\n\n` +
    ' ### | TAP             | MAC               | EDGE                  | HINT            | LAST SEEN |     UPTIME\n' +
    `${TABLE_RULE}\nSUPERNODE FORWARD\n`;
  const t = e.peerTables();
  let n = 0;
  for (const p of t.pending) {
    send(msg + legacyPeerLine(++n, p, now));
    msg = '';
  }
  msg += `${TABLE_SEPARATOR}\nPEER TO PEER\n`;
  n = 0;
  for (const p of t.known) {
    send(msg + legacyPeerLine(++n, p, now));
    msg = '';
  }
  msg += `${TABLE_SEPARATOR}\nSUPERNODES\n`;
  for (const sn of e.supernodeList()) {
    const current = sn === e.currentSupernode;
    const line =
      `${padRight(sn.version, 19)} ${sn.purgeable ? '' : 'l'}${current ? (e.supernodeWait !== 0 ? '.' : '*') : ''} | ` +
      `${padRight(mac(sn.mac), 17)} | ${padRight(sock(sn.addr), 21)} | ` +
      `${padRight(criterionText(sn, e.config.selection, current), 15)} | ` +
      `${padLeft(sn.lastSeen ? String(now - sn.lastSeen) : '', 9)} | ${padLeft(sn.uptime ? String(sn.uptime) : '', 10)}\n`;
    send(msg + line);
    msg = '';
  }
  const tr = e.traffic;
  msg +=
    `${TABLE_RULE}\n` +
    `uptime ${now - e.startTime} | pend_peers ${t.pending.length} | known_peers ${t.known.length} | ` +
    `transop ${tr.transopTx},${tr.transopRx}\n` +
    `super ${tr.txSup},${tr.rxSup} | p2p ${tr.txP2p},${tr.rxP2p}\n` +
    (e.config.mssClamp !== undefined ? `mss_clamp ${tr.mssClampTx},${tr.mssClampRx}\n` : '') +
    `last_super ${now - e.lastSup} sec ago | last_p2p ${now - e.lastP2p} sec ago\n` +
    '\nType "help" to see more commands.\n\n';
  send(msg);
}

function legacy(ctx: Ctx, text: string, _from: SockAddr, send: (text: string) => void): void {
  const logger = ctx.edge.logger;
  if (text.startsWith('help') || text.startsWith('?')) {
    send(LEGACY_HELP);
    return;
  }
  if (text.startsWith('stop')) {
    ctx.stopping = true;
    ctx.stop();
    return;
  }
  if (text.startsWith('+verb')) {
    logger.level = Math.max(0, logger.level) + 1;
    send(`> +OK traceLevel=${logger.level}\n`);
    return;
  }
  if (text.startsWith('-verb')) {
    if (logger.level > 0) {
      logger.level--;
      send(`> -OK traceLevel=${logger.level}\n`);
    } else {
      send(`> -NOK traceLevel=${Math.max(0, logger.level)}\n`);
    }
    return;
  }
  legacyStatus(ctx, send);
}

/**
 * Serves the management port of `edge` on `socket` (bound by the caller to 127.0.0.1:5644 or `-t`). Peer events
 * are published on the `peer` topic. Returns the server; close it when the edge stops.
 */
export function serveEdgeManagement(
  edge: Edge,
  socket: UdpSocket,
  options: EdgeManagementOptions = {},
): ManagementServer<Ctx> {
  const ctx: Ctx = {
    edge,
    stop: options.onStop ?? (() => void edge.stop()),
    now: options.now ?? (() => edge.nowSeconds()),
    stopping: false,
  };
  let server!: ManagementServer<Ctx>;
  const commands: MgmtCommand<Ctx>[] = [
    ...COMMANDS,
    postTestCommand<Ctx>(() => server),
    helpCommand<Ctx>(() => commands),
    helpEventsCommand<Ctx>(() => server),
  ];
  server = new ManagementServer<Ctx>(socket, {
    context: ctx,
    passwordHash: mgmtPasswordHash(options.password ?? DEFAULT_MGMT_PASSWORD),
    commands,
    topics: [
      { name: 'debug', help: 'All events - for event debugging' },
      { name: 'test', help: 'Used only by post.test' },
      { name: 'peer', help: 'Changes to peer list' },
    ],
    jsonDetect: 'lowercase',
    tagMaxChars: EDGE_TAG_MAX_CHARS,
    endIncludesCmd: true,
    legacy,
  });
  const onPeer = (ev: PeerEvent): void => {
    server.post('peer', { action: ev.action, macaddr: mac(ev.mac), sockaddr: ev.sockaddr });
  };
  edge.on('peer', onPeer);
  edge.once('stopped', () => edge.off('peer', onPeer));
  return server;
}
