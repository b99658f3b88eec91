// UDP datagrams/s at 1400 bytes on loopback: node:dgram with a send pool vs Buffer.allocUnsafe copies, and the addon.
//
// Send side: each method sends the same datagrams to a native sink; dgram methods yield to the event loop
// every window so their send callbacks run (and pooled buffers come back). Receive side: a native sender
// pushes windows with sendmmsg; the receiver under test must see every datagram of a window (checked by
// sequence number) before the next is sent, so the socket buffer never overflows.
import type { UdpSocket } from '../src/io/index.js';
import { encodeSockAddr, openNativeUdp, openUdp, SOCKADDR_BYTES } from '../src/io/index.js';
import type { BenchResult } from './types.js';

const TX_SECTION = 'UDP send (1400-byte datagrams, loopback)';
const RX_SECTION = 'UDP receive (1400-byte datagrams, loopback, sender: sendmmsg)';
const DATAGRAM_BYTES = 1400;
const WINDOW = 256;
const WARMUP = 20_000;
const MEASURE = 200_000;
const RCVBUF_BYTES = 4 * 1024 * 1024;

function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

function rate(section: string, name: string, n: number, t0: bigint): BenchResult {
  const pps = n / (Number(process.hrtime.bigint() - t0) / 1e9);
  return { section, name, values: { 'datagrams/s': pps, 'Gbit/s': (pps * DATAGRAM_BYTES * 8) / 1e9 } };
}

async function sendRun(name: string, s: UdpSocket, sink: UdpSocket): Promise<BenchResult> {
  const buf = Buffer.alloc(DATAGRAM_BYTES, 0x5a);
  const burst = async (n: number): Promise<void> => {
    for (let sent = 0; sent < n; sent += WINDOW) {
      for (let i = 0; i < WINDOW; i++) s.send(buf, 0, DATAGRAM_BYTES, sink.local);
      await yieldToLoop();
    }
  };
  await burst(WARMUP);
  const t0 = process.hrtime.bigint();
  await burst(MEASURE);
  return rate(TX_SECTION, name, MEASURE, t0);
}

async function sendBatchRun(): Promise<BenchResult> {
  const sink = openNativeUdp({ address: '127.0.0.1' });
  const s = openNativeUdp({ address: '127.0.0.1' });
  try {
    const buf = Buffer.alloc(WINDOW * DATAGRAM_BYTES, 0x5a);
    const offsets = Uint32Array.from({ length: WINDOW }, (_, i) => i * DATAGRAM_BYTES);
    const lengths = new Uint32Array(WINDOW).fill(DATAGRAM_BYTES);
    const addrs = new Uint8Array(WINDOW * SOCKADDR_BYTES);
    for (let i = 0; i < WINDOW; i++) encodeSockAddr(sink.local, addrs, i * SOCKADDR_BYTES);
    const burst = async (n: number): Promise<void> => {
      for (let sent = 0; sent < n; sent += WINDOW) {
        s.sendBatch(buf, offsets, lengths, addrs, WINDOW);
        await yieldToLoop();
      }
    };
    await burst(WARMUP);
    const t0 = process.hrtime.bigint();
    await burst(MEASURE);
    return rate(TX_SECTION, 'addon: sendmmsg, 256 per call', MEASURE, t0);
  } finally {
    s.close();
    sink.close();
  }
}

async function sendSide(): Promise<BenchResult[]> {
  // The sink never reads: the kernel drops what overflows its buffer, which costs the sender nothing extra.
  const sink = openNativeUdp({ address: '127.0.0.1' });
  const out: BenchResult[] = [];
  try {
    const pooled = await openUdp({ address: '127.0.0.1' });
    out.push(await sendRun('node:dgram, copy into pooled buffer (default)', pooled, sink));
    pooled.close();
    const unpooled = await openUdp({ address: '127.0.0.1', pool: false });
    out.push(await sendRun('node:dgram, copy into Buffer.allocUnsafe', unpooled, sink));
    unpooled.close();
    const native = openNativeUdp({ address: '127.0.0.1' });
    out.push(await sendRun('addon: sendto per datagram, no copy', native, sink));
    native.close();
  } finally {
    sink.close();
  }
  out.push(await sendBatchRun());
  return out;
}

async function receiveRun(
  name: string,
  rx: UdpSocket & { onDatagrams?: unknown },
  batch: boolean,
): Promise<BenchResult> {
  const tx = openNativeUdp({ address: '127.0.0.1' });
  try {
    const buf = Buffer.alloc(WINDOW * DATAGRAM_BYTES, 0x5a);
    const offsets = Uint32Array.from({ length: WINDOW }, (_, i) => i * DATAGRAM_BYTES);
    const lengths = new Uint32Array(WINDOW).fill(DATAGRAM_BYTES);
    const addrs = new Uint8Array(WINDOW * SOCKADDR_BYTES);
    for (let i = 0; i < WINDOW; i++) encodeSockAddr(rx.local, addrs, i * SOCKADDR_BYTES);
    let received = 0;
    let target = 0;
    let wake: (() => void) | undefined;
    const check = (data: Uint8Array, off: number): void => {
      const seq = ((data[off] << 24) | (data[off + 1] << 16) | (data[off + 2] << 8) | data[off + 3]) >>> 0;
      if (seq !== received) throw new Error(`${name}: datagram ${received} out of order (${seq})`);
      received++;
      if (received >= target) wake?.();
    };
    if (batch) {
      const native = rx as ReturnType<typeof openNativeUdp>;
      native.onDatagrams((b) => {
        for (let i = 0; i < b.count; i++) check(b.slab, i * b.stride + b.headroom);
      });
    } else {
      rx.onDatagram((data) => check(data, 0));
    }
    const burst = async (n: number): Promise<void> => {
      received = 0;
      for (let sent = 0; sent < n; sent += WINDOW) {
        for (let i = 0; i < WINDOW; i++) buf.writeUInt32BE(sent + i, offsets[i]);
        if (tx.sendBatch(buf, offsets, lengths, addrs, WINDOW) !== WINDOW) throw new Error('send refused');
        target = sent + WINDOW;
        if (received < target) {
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(
              () => reject(new Error(`${name}: lost datagrams ${received}/${target}`)),
              5000,
            );
            wake = () => {
              clearTimeout(t);
              wake = undefined;
              resolve();
            };
          });
        }
      }
    };
    await burst(WARMUP);
    const t0 = process.hrtime.bigint();
    await burst(MEASURE);
    return rate(RX_SECTION, name, MEASURE, t0);
  } finally {
    tx.close();
    rx.close();
  }
}

export async function run(): Promise<BenchResult[]> {
  const out = await sendSide();
  out.push(
    await receiveRun(
      "node:dgram 'message' per datagram",
      await openUdp({ address: '127.0.0.1', recvBufferBytes: RCVBUF_BYTES }),
      false,
    ),
  );
  out.push(
    await receiveRun(
      'addon: recvmmsg batch → one JS call',
      openNativeUdp({ address: '127.0.0.1', recvBufferBytes: RCVBUF_BYTES }),
      true,
    ),
  );
  return out;
}
