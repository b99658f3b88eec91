// The real environment of a supernode (system clock and randomness, node:dgram, node:net, DNS, files): defaults for deps.
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { openUdp } from '../io/udp.js';
import { SystemClock } from '../util/clock.js';
import { silentLogger } from '../util/log.js';
import { SystemRandom } from '../util/random.js';
import type { SupernodeDeps, TcpConn, TcpListener } from './types.js';

/** supernode.c: N2N_TCP_BACKLOG_QUEUE_SIZE. */
const TCP_BACKLOG = 3;
const V4_MAPPED_PREFIX = '::ffff:';

/** A node:net socket as a TcpConn: writes copy the caller's bytes, errors just close it. */
function tcpConn(s: Socket): TcpConn {
  s.setNoDelay(true);
  s.on('error', () => s.destroy());
  const raw = s.remoteAddress ?? '0.0.0.0';
  const address = raw.startsWith(V4_MAPPED_PREFIX) ? raw.slice(V4_MAPPED_PREFIX.length) : raw;
  return {
    remote: { family: 4, address, port: s.remotePort ?? 0 },
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

/** System clock, OS randomness, a silent logger, node:dgram / node:net sockets, IPv4 DNS lookups, file reads. */
export function defaultSupernodeDeps(): SupernodeDeps {
  return {
    clock: new SystemClock(),
    random: new SystemRandom(),
    logger: silentLogger,
    openUdp: (address, port) => openUdp({ family: 4, address, port }),
    resolve: async (host) => (await lookup(host, { family: 4 })).address,
    readTextFile: (path) => readFileSync(path, 'utf8'),
    listenTcp,
  };
}
