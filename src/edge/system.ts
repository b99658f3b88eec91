// The real-world EdgeDeps: system clock and randomness, kernel TAP and UDP from src/io, DNS, the multicast socket.
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { addonAvailable } from '../io/addon.js';
import { nativeCipherBackend } from '../io/crypto-native.js';
import { openFastPath } from '../io/fastpath.js';
import { type LinuxTap, openTap } from '../io/tap.js';
import { openTcpFramed } from '../io/tcp-framed.js';
import type { TapDevice, UdpSocket } from '../io/types.js';
import { DgramUdpSocket, openUdpAnyFamily } from '../io/udp.js';
import { openNativeUdpAnyFamily } from '../io/udp-native.js';
import { loadZstd } from '../io/zstd.js';
import { SystemClock } from '../util/clock.js';
import type { SockAddr } from '../util/ip.js';
import { type Logger, LogLevel, silentLogger } from '../util/log.js';
import { SystemRandom } from '../util/random.js';
import {
  type EdgeDeps,
  MULTICAST_GROUP,
  MULTICAST_PORT,
  type TapOpenOptions,
  type UdpOpenOptions,
} from './deps.js';

/** Socket buffers of the main UDP socket: a burst of full-size frames fits without drops. */
const UDP_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/**
 * Receive buffer of the main UDP socket: a flood's junk (issue 13: ~25,000 datagrams/s at one daemon) must not
 * push genuine datagrams out while the process waits for a CPU on a loaded host; 32 MB holds about a second of
 * it. Above net.core.rmem_max only with CAP_NET_ADMIN (native/src/udp.cc: SO_RCVBUFFORCE); else clamped.
 */
const UDP_RECV_BUFFER_BYTES = 32 * 1024 * 1024;
/** Kernel transmit queue of the TAP device, in frames (the kernel's default of 500 drops under load). */
const TAP_TX_QUEUE_FRAMES = 1000;

export interface SystemDepsOptions {
  logger?: Logger;
  /** Use node:dgram instead of the addon's batched UDP socket (default: the addon when it is built). */
  dgram?: boolean;
  /**
   * The native receive fast path (edge/fastpath.ts; default on): steady-state P2P data packets go from the UDP
   * socket to the TAP in the addon. false keeps every packet on the JS path.
   */
  nativeFastPath?: boolean;
}

function warn(logger: Logger, msg: string): void {
  if (logger.level >= LogLevel.WARNING) logger.log(LogLevel.WARNING, msg);
}

/** Opens the main socket: the addon's batched socket when available, else node:dgram. */
async function openMainUdp(o: UdpOpenOptions, logger: Logger, useDgram: boolean): Promise<UdpSocket> {
  if (!useDgram && addonAvailable()) {
    // The addon's socket sets IP_TOS (-T) and IP_MTU_DISCOVER (-D) itself.
    return openNativeUdpAnyFamily({
      address: o.address,
      port: o.port,
      recvBufferBytes: UDP_RECV_BUFFER_BYTES,
      sendBufferBytes: UDP_SOCKET_BUFFER_BYTES,
      tos: o.tos,
      pmtuDiscovery: o.pmtuDiscovery,
    });
  }
  if (o.tos !== undefined) warn(logger, '-T: node:dgram cannot set the IP TOS; ignored');
  if (o.pmtuDiscovery) warn(logger, '-D: node:dgram uses the kernel default path MTU discovery setting');
  return openUdpAnyFamily({
    address: o.address,
    port: o.port,
    recvBufferBytes: UDP_RECV_BUFFER_BYTES,
    sendBufferBytes: UDP_SOCKET_BUFFER_BYTES,
  });
}

/** -S2: the framed TCP connection to the supernode, its connects and losses logged. */
function openTcpToSupernode(o: UdpOpenOptions, logger: Logger): Promise<UdpSocket> {
  if (o.tos !== undefined || o.pmtuDiscovery) warn(logger, '-T/-D: not applied to the TCP connection (-S2)');
  return openTcpFramed({
    address: o.address,
    onState: (state, to, err) => {
      const where = `${to.address}:${to.port}`;
      if (state === 'connected') {
        if (logger.level >= LogLevel.NORMAL)
          logger.log(LogLevel.NORMAL, `TCP connection to supernode ${where} up`);
      } else warn(logger, `TCP connection to supernode ${where} lost${err ? `: ${err.message}` : ''}`);
    },
  });
}

/** 0.0.0.0:1968 with SO_REUSEADDR, joined to 224.0.0.68 (edge_utils.c: edge_init_sockets, check_join_multicast_group). */
function openMulticast(logger: Logger): Promise<UdpSocket | undefined> {
  return new Promise((resolve) => {
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    const fail = (err: Error): void => {
      warn(
        logger,
        `local peer discovery disabled: cannot use ${MULTICAST_GROUP}:${MULTICAST_PORT} (${err.message})`,
      );
      s.close();
      resolve(undefined);
    };
    s.once('error', fail);
    s.bind(MULTICAST_PORT, '0.0.0.0', () => {
      try {
        s.addMembership(MULTICAST_GROUP);
      } catch (err) {
        fail(err as Error);
        return;
      }
      s.removeListener('error', fail);
      s.on('error', () => {});
      resolve(new DgramUdpSocket(s, 4, undefined));
    });
  });
}

async function openTapDevice(o: TapOpenOptions): Promise<TapDevice> {
  try {
    return openTap({
      name: o.name,
      mac: o.mac,
      mtu: o.mtu,
      addr: o.addr,
      bitlen: o.bitlen,
      txQueueLen: TAP_TX_QUEUE_FRAMES,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPERM' || code === 'EACCES') {
      throw new Error(
        `cannot create TAP device '${o.name}': permission denied (run as root or with CAP_NET_ADMIN)`,
      );
    }
    throw err;
  }
}

/** The local address the kernel would use towards `to` (a connected UDP socket sends nothing). */
function localAddressFor(to: SockAddr): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createSocket(to.family === 6 ? 'udp6' : 'udp4');
    s.once('error', () => {
      s.close();
      resolve(undefined);
    });
    s.connect(to.port, to.address, () => {
      const a = s.address().address;
      s.close();
      resolve(a);
    });
  });
}

/**
 * The MTU of the route towards `to`, as the MTU of the interface that holds the local address the kernel picks
 * for it (sysfs). Not the per-route `mtu` attribute nor a learned path MTU: the edge runs no `ip route get`,
 * and on the hosts this is for (one uplink) the interface MTU is the route's. Undefined when unknown.
 */
async function routeMtu(to: SockAddr): Promise<number | undefined> {
  const local = await localAddressFor(to);
  if (local === undefined) return undefined;
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (!addrs?.some((a) => a.address === local)) continue;
    // An alias label ("eth0:1") names the device before the colon.
    const dev = name.split(':')[0];
    try {
      const mtu = Number((await readFile(`/sys/class/net/${dev}/mtu`, 'utf8')).trim());
      return mtu > 0 ? mtu : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * A supernode name's address: the first answer in the system's order (getaddrinfo sorts by RFC 6724, which
 * puts IPv6 first only when this host has a usable IPv6 source), limited to `family` when it is 4 or 6.
 */
export async function resolveHost(host: string, family: 0 | 4 | 6 = 4): Promise<string> {
  return (await lookup(host, { family })).address;
}

/** EdgeDeps for a real host: kernel TAP, UDP (batched through the addon when built), DNS, system clock. */
export function systemEdgeDeps(options: SystemDepsOptions = {}): EdgeDeps {
  const logger = options.logger ?? silentLogger;
  return {
    clock: new SystemClock(),
    random: new SystemRandom(),
    logger,
    cipherBackend: nativeCipherBackend(),
    openFastPath:
      options.nativeFastPath === false
        ? undefined
        : (u, t, b, c, m, id, a, r) => openFastPath(u as UdpSocket, t as TapDevice, b, c, m, id, a, r),
    zstd: loadZstd(),
    openUdp: (o) => openMainUdp(o, logger, options.dgram === true),
    openTcp: (o) => openTcpToSupernode(o, logger),
    openMulticast: () => openMulticast(logger),
    openTap: openTapDevice,
    resolve: resolveHost,
    localAddressFor,
    routeMtu,
    readTapAddress: (tap) => {
      const t = tap as Partial<LinuxTap>;
      if (typeof t.refreshInfo !== 'function') return undefined;
      const i = t.refreshInfo();
      return { addr: i.addr, bitlen: i.bitlen };
    },
  };
}
