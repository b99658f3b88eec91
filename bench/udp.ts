// UDP datagrams/s at 1400 bytes on loopback: node:dgram with a send pool vs Buffer.allocUnsafe copies, and the addon.
//
// Send side: each method sends the same datagrams to a native sink that never reads (the kernel drops what
// overflows its buffer, at no extra cost to the sender); dgram methods yield to the event loop every window
// so their send callbacks run and pooled buffers come back. Receive side: a native sender pushes windows with
// sendmmsg; the receiver under test must see every datagram of a window (checked by sequence number) before
// the next is sent, so its socket buffer never overflows. Methods run interleaved in rounds; each reports
// its best round.
import type { DatagramBatch, UdpSocket } from '../src/io/index.js';
import { encodeSockAddr, openNativeUdp, openUdp, SOCKADDR_BYTES } from '../src/io/index.js';
import type { BenchResult } from './types.js';

const TX_SECTION = 'UDP send (1400-byte datagrams, loopback)';
const RX_SECTION = 'UDP receive (1400-byte datagrams, loopback, sender: sendmmsg)';
const DATAGRAM_BYTES = 1400;
const WINDOW = 256;
const WARMUP = 10_240;
/** Datagrams per timed round (a multiple of WINDOW). */
const ROUND = 51_200;
const ROUNDS = 5;
const RCVBUF_BYTES = 4 * 1024 * 1024;

type Method = (n: number) => Promise<void>;

function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** A window of WINDOW datagrams in one buffer, all addressed to `to`, for sendBatch. */
function makeWindow(to: UdpSocket) {
  const buf = Buffer.alloc(WINDOW * DATAGRAM_BYTES, 0x5a);
  const offsets = Uint32Array.from({ length: WINDOW }, (_, i) => i * DATAGRAM_BYTES);
  const lengths = new Uint32Array(WINDOW).fill(DATAGRAM_BYTES);
  const addrs = new Uint8Array(WINDOW * SOCKADDR_BYTES);
  for (let i = 0; i < WINDOW; i++) encodeSockAddr(to.local, addrs, i * SOCKADDR_BYTES);
  return { buf, offsets, lengths, addrs };
}

async function bestOf(section: string, methods: readonly [string, Method][]): Promise<BenchResult[]> {
  const best = new Map<string, number>();
  for (const [, m] of methods) await m(WARMUP);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, m] of methods) {
      const t0 = process.hrtime.bigint();
      await m(ROUND);
      const pps = ROUND / (Number(process.hrtime.bigint() - t0) / 1e9);
      best.set(name, Math.max(best.get(name) ?? 0, pps));
    }
  }
  return methods.map(([name]) => {
    const pps = best.get(name)!;
    return { section, name, values: { 'datagrams/s': pps, 'Gbit/s': (pps * DATAGRAM_BYTES * 8) / 1e9 } };
  });
}

async function sendSide(): Promise<BenchResult[]> {
  const sink = openNativeUdp({ address: '127.0.0.1' });
  const pooled = await openUdp({ address: '127.0.0.1' });
  const unpooled = await openUdp({ address: '127.0.0.1', pool: false });
  const native = openNativeUdp({ address: '127.0.0.1' });
  const batcher = openNativeUdp({ address: '127.0.0.1' });
  const one = Buffer.alloc(DATAGRAM_BYTES, 0x5a);
  const win = makeWindow(sink);
  const perDatagram =
    (s: UdpSocket): Method =>
    async (n) => {
      for (let sent = 0; sent < n; sent += WINDOW) {
        for (let i = 0; i < WINDOW; i++) s.send(one, 0, DATAGRAM_BYTES, sink.local);
        await yieldToLoop();
      }
    };
  try {
    return await bestOf(TX_SECTION, [
      ['node:dgram, copy into pooled buffer (default)', perDatagram(pooled)],
      ['node:dgram, copy into Buffer.allocUnsafe', perDatagram(unpooled)],
      ['addon: sendto per datagram, no copy', perDatagram(native)],
      [
        'addon: sendmmsg, 256 per call',
        async (n) => {
          for (let sent = 0; sent < n; sent += WINDOW) {
            batcher.sendBatch(win.buf, win.offsets, win.lengths, win.addrs, WINDOW);
            await yieldToLoop();
          }
        },
      ],
    ]);
  } finally {
    for (const s of [sink, pooled, unpooled, native, batcher]) s.close();
  }
}

/** Senders made by `receiver`, closed at the end of the receive side. */
const senders: UdpSocket[] = [];

/** A receive method: the sender pushes windows; `arm` installs the receiver's handler around `check`. */
function receiver(rx: UdpSocket, arm: (check: (data: Uint8Array, off: number) => void) => void): Method {
  const tx = openNativeUdp({ address: '127.0.0.1' });
  senders.push(tx);
  const win = makeWindow(rx);
  let received = 0;
  let target = 0;
  let wake: (() => void) | undefined;
  arm((data, off) => {
    const seq = ((data[off] << 24) | (data[off + 1] << 16) | (data[off + 2] << 8) | data[off + 3]) >>> 0;
    if (seq !== received) throw new Error(`datagram ${received} out of order (${seq})`);
    received++;
    if (received >= target) wake?.();
  });
  return async (n) => {
    received = 0;
    for (let sent = 0; sent < n; sent += WINDOW) {
      for (let i = 0; i < WINDOW; i++) win.buf.writeUInt32BE(sent + i, win.offsets[i]);
      if (tx.sendBatch(win.buf, win.offsets, win.lengths, win.addrs, WINDOW) !== WINDOW) {
        throw new Error('send refused');
      }
      target = sent + WINDOW;
      if (received >= target) continue;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`lost datagrams: ${received}/${target}`)), 5000);
        wake = () => {
          clearTimeout(t);
          wake = undefined;
          resolve();
        };
      });
    }
  };
}

async function receiveSide(): Promise<BenchResult[]> {
  const viaDgram = await openUdp({ address: '127.0.0.1', recvBufferBytes: RCVBUF_BYTES });
  const viaAddon = openNativeUdp({ address: '127.0.0.1', recvBufferBytes: RCVBUF_BYTES });
  try {
    return await bestOf(RX_SECTION, [
      [
        "node:dgram 'message' per datagram",
        receiver(viaDgram, (check) => viaDgram.onDatagram((d) => check(d, 0))),
      ],
      [
        'addon: recvmmsg batch → one JS call',
        receiver(viaAddon, (check) =>
          viaAddon.onDatagrams((b: DatagramBatch) => {
            for (let i = 0; i < b.count; i++) check(b.slab, i * b.stride + b.headroom);
          }),
        ),
      ],
    ]);
  } finally {
    viaDgram.close();
    viaAddon.close();
    for (const s of senders.splice(0)) s.close();
  }
}

export async function run(): Promise<BenchResult[]> {
  return [...(await sendSide()), ...(await receiveSide())];
}
