// The real environment of a supernode (system clock and randomness, node:dgram, node:net, DNS, files): defaults for deps.
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { addonAvailable } from '../io/addon.js';
import { nativeCipherBackend } from '../io/crypto-native.js';
import { openSnRelay } from '../io/snrelay.js';
import type { UdpSocket } from '../io/types.js';
import { openUdpAnyFamily } from '../io/udp.js';
import { openNativeUdpAnyFamily } from '../io/udp-native.js';
import { asHeaderBackend } from '../transform/header.js';
import { SystemClock } from '../util/clock.js';
import { silentLogger } from '../util/log.js';
import { SystemRandom } from '../util/random.js';
import type { SupernodeDeps, TcpConn, TcpListener } from './types.js';

/** supernode.c: N2N_TCP_BACKLOG_QUEUE_SIZE. */
const TCP_BACKLOG = 3;
const V4_MAPPED_PREFIX = '::ffff:';
/** Socket buffers of the relay socket: a burst of relayed datagrams must not overflow them (as the edge's). */
const UDP_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/**
 * Receive buffer of the main UDP socket: a flood's junk (issue 13: ~25,000 datagrams/s at one daemon) must not
 * push genuine datagrams out while the process waits for a CPU on a loaded host; 32 MB holds about a second of
 * it. Above net.core.rmem_max only with CAP_NET_ADMIN (native/src/udp.cc: SO_RCVBUFFORCE); else clamped.
 */
const UDP_RECV_BUFFER_BYTES = 32 * 1024 * 1024;

/**
 * The addon's batched socket (recvmmsg/sendmmsg with GRO/GSO) when it is built, else node:dgram; for `::` one
 * dual-stack socket (IPv4-only where the host has no IPv6), for a literal one of its family.
 */
function openRelayUdp(address: string, port: number): Promise<UdpSocket> | UdpSocket {
  if (addonAvailable()) {
    return openNativeUdpAnyFamily({
      address,
      port,
      recvBufferBytes: UDP_RECV_BUFFER_BYTES,
      sendBufferBytes: UDP_SOCKET_BUFFER_BYTES,
    });
  }
  return openUdpAnyFamily({ address, port });
}

/** A node:net socket as a TcpConn: writes copy the caller's bytes, errors just close it. */
function tcpConn(s: Socket): TcpConn {
  s.setNoDelay(true);
  s.on('error', () => s.destroy());
  const raw = s.remoteAddress ?? '0.0.0.0';
  const address = raw.startsWith(V4_MAPPED_PREFIX) ? raw.slice(V4_MAPPED_PREFIX.length) : raw;
  return {
    remote: { family: address.includes(':') ? 6 : 4, address, port: s.remotePort ?? 0 },
    onData: (h) => {
      s.on('data', h);
    },
    onClose: (h) => {
      s.on('close', h);
    },
    send: (buf, off, len) => {
      if (!s.destroyed) s.write(Buffer.from(buf.subarray(off, off + len)));
    },
    close: () => {
      s.destroy();
    },
  };
}

/** Listens on address:port; resolves once bound, rejects on a bind error. */
function listenTcp(address: string, port: number, onConnection: (c: TcpConn) => void): Promise<TcpListener> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => onConnection(tcpConn(s)));
    server.once('error', reject);
    server.listen({ host: address, port, backlog: TCP_BACKLOG }, () => {
      server.off('error', reject);
      server.on('error', () => {});
      resolve({ close: () => server.close() });
    });
  });
}

/**
 * A `-l` name: its IPv4 address when it has one (every 3.1.1 member is on IPv4), else its IPv6 address
 * (an AAAA-only name, a member on the IPv6 underlay).
 */
async function resolveMember(host: string): Promise<string> {
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch (e4) {
    try {
      return (await lookup(host, { family: 6 })).address;
    } catch {
      throw e4;
    }
  }
}

/** System clock, OS randomness, a silent logger, the addon's batched UDP socket (or node:dgram) with its native relay, node:net, DNS lookups (IPv4 first), file reads. */
export function defaultSupernodeDeps(): SupernodeDeps {
  return {
    clock: new SystemClock(),
    random: new SystemRandom(),
    logger: silentLogger,
    openUdp: openRelayUdp,
    resolve: resolveMember,
    readTextFile: (path) => readFileSync(path, 'utf8'),
    listenTcp,
    headerBackend: asHeaderBackend(nativeCipherBackend()),
    openNativeRelay: openSnRelay,
  };
}
