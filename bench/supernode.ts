// Supernode throughput: registrations/s and relayed 1400-byte PACKETs/s between two wire-level edges over
// loopback UDP (the supernode runs in a worker thread, the edges in the main thread), plus the state
// machine alone on an in-memory socket.
//
// Closed loop: the sender keeps a fixed window of datagrams in flight and tops it up as answers (ACKs,
// relayed PACKETs) arrive, so the figure is what the supernode sustains, not what the kernel drops.
// Every run is verified first: the relayed payload must arrive byte-identical.
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { UdpSocket } from '../src/io/types.js';
import { Supernode } from '../src/supernode/supernode.js';
import { encryptHeader, headerLength, staticHeaderKeys } from '../src/transform/header.js';
import { StampGenerator } from '../src/transform/stamp.js';
import { fixedString } from '../src/util/bytes.js';
import { SystemClock } from '../src/util/clock.js';
import type { SockAddr } from '../src/util/ip.js';
import { writeMac } from '../src/util/mac.js';
import { SeededRandom } from '../src/util/random.js';
import { communityBytes } from '../src/wire/common.js';
import { encodeRegisterSuper } from '../src/wire/messages.js';
import { writePacketHeader } from '../src/wire/packet.js';
import { MsgType } from '../src/wire/types.js';
import type { BenchResult } from './types.js';

const SECTION = 'Supernode';
const FRAME_BYTES = 1400;
const WINDOW = 64;
const RUN_MS = 1500;
const LOCAL = '127.0.0.1';
const MAC_A = 0x0200000000aa;
const MAC_B = 0x0200000000bb;
const EDGE_MAC_OFF = 28;
const BITS_PER_BYTE = 8;

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

async function udp(): Promise<Socket> {
  const s = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  await new Promise<void>((r) => s.bind(0, LOCAL, () => r()));
  return s;
}

async function startWorker(communityFile?: string): Promise<{ worker: Worker; port: number }> {
  const worker = new Worker(new URL('./supernode-worker.js', import.meta.url), {
    workerData: { communityFile },
  });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { port: number }) => resolve(m.port));
    worker.once('error', reject);
  });
  return { worker, port };
}

async function stopWorker(worker: Worker): Promise<void> {
  const done = new Promise<void>((r) => worker.once('exit', () => r()));
  worker.postMessage('stop');
  await done;
}

function registerSuper(community: string, mac: number, he: boolean): Buffer {
  const buf = Buffer.alloc(256);
  const len = encodeRegisterSuper(
    { ttl: 2, type: MsgType.REGISTER_SUPER, flags: 0, community: communityBytes(community) },
    {
      cookie: 7,
      edgeMac: mac,
      devAddr: { addr: 0x0a000000 + (mac & 0xffff), bitlen: 8 },
      desc: fixedString('bench', 16),
      auth: { scheme: 1, token: new Uint8Array(16).fill(mac & 0xff) },
      keyTime: 0,
    },
    buf,
    0,
  );
  void he;
  return buf.subarray(0, len);
}

/**
 * Keeps WINDOW datagrams in flight: every answer arriving at `receiver` sends the next one from inside the
 * message handler (no per-datagram promise or timer). A 20 ms watchdog refills the window when datagrams
 * were lost. Returns answers per second over `ms`.
 */
function closedLoop(receiver: Socket, send: (i: number) => void, ms: number): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    let inflight = 0;
    let running = true;
    let lastDone = -1;
    const top = (): void => {
      while (running && inflight < WINDOW) {
        send(sent++);
        inflight++;
      }
    };
    const onMessage = (): void => {
      done++;
      inflight--;
      top();
    };
    receiver.on('message', onMessage);
    const watchdog = setInterval(() => {
      if (done === lastDone) inflight = 0;
      lastDone = done;
      top();
    }, 20);
    const start = now();
    top();
    setTimeout(() => {
      running = false;
      const elapsed = now() - start;
      clearInterval(watchdog);
      receiver.off('message', onMessage);
      resolve((done * 1000) / elapsed);
    }, ms);
  });
}

async function registrations(): Promise<BenchResult> {
  const { worker, port } = await startWorker();
  const s = await udp();
  const msg = registerSuper('bench', 0x020000000000, false);
  // Verify: one registration gets its ACK.
  s.send(msg, port, LOCAL);
  await new Promise<void>((r) => s.once('message', () => r()));
  const ring = Array.from({ length: 4 * WINDOW }, () => Buffer.from(msg));
  const rate = await closedLoop(
    s,
    (i) => {
      // dgram sends asynchronously from the caller's buffer: each datagram in flight needs its own.
      const m = ring[i % ring.length];
      writeMac(m, EDGE_MAC_OFF, 0x020000000000 + i + 1);
      m.writeUInt32BE((0x0b000000 + i) >>> 0, EDGE_MAC_OFF + 6);
      s.send(m, port, LOCAL);
    },
    RUN_MS,
  );
  s.close();
  await stopWorker(worker);
  return {
    section: SECTION,
    name: 'REGISTER_SUPER → ACK, new edge each (loopback UDP)',
    values: { 'per s': rate, 'Mbit/s': '' },
  };
}

async function relay(he: boolean): Promise<BenchResult> {
  const tmp = mkdtempSync(join(tmpdir(), 'tsn2n-bench-'));
  const list = join(tmp, 'community.list');
  writeFileSync(list, 'bench\n');
  const { worker, port } = await startWorker(he ? list : undefined);
  const a = await udp();
  const b = await udp();
  const keys = staticHeaderKeys(communityBytes('bench'));
  const stamps = new StampGenerator(new SystemClock());
  const stamp = { hi: 0, lo: 0 };
  const rnd = new SeededRandom(9);
  const seal = (buf: Buffer, len: number, hl: number): void => {
    if (he) encryptHeader(buf, 0, len, hl, stamps.next(stamp), rnd.u32(), keys);
  };
  for (const [s, mac] of [
    [a, MAC_A],
    [b, MAC_B],
  ] as const) {
    const r = Buffer.from(registerSuper('bench', mac, he));
    const big = Buffer.alloc(r.length);
    r.copy(big);
    seal(big, big.length, big.length);
    s.send(big, port, LOCAL);
    await new Promise<void>((res) => s.once('message', () => res()));
  }
  const frame = Buffer.alloc(38 + FRAME_BYTES);
  const payload = Buffer.alloc(FRAME_BYTES);
  for (let i = 0; i < FRAME_BYTES; i++) payload[i] = (i * 13) & 0xff;
  const build = (): Buffer => {
    const hdr = writePacketHeader(frame, 0, 2, 0, communityBytes('bench'), MAC_A, MAC_B, undefined, 1, 1);
    payload.copy(frame, hdr);
    seal(frame, frame.length, headerLength(MsgType.PACKET, hdr, FRAME_BYTES, false));
    return frame;
  };
  // Verify: one relayed PACKET arrives with the payload intact behind a 46-byte header.
  a.send(build(), port, LOCAL);
  const first = await new Promise<Buffer>((r) => b.once('message', (d) => r(d)));
  if (first.length !== 46 + FRAME_BYTES || !first.subarray(46).equals(payload)) {
    throw new Error('relay bench: relayed PACKET does not match');
  }
  // Header encryption needs a fresh stamp per datagram; without it one prebuilt datagram is resent.
  const fixed = he ? undefined : Buffer.from(build());
  const rate = await closedLoop(
    b,
    () => {
      a.send(fixed ?? build(), port, LOCAL);
    },
    RUN_MS,
  );
  a.close();
  b.close();
  await stopWorker(worker);
  rmSync(tmp, { recursive: true, force: true });
  return {
    section: SECTION,
    name: `PACKET relay A → SN → B, ${FRAME_BYTES}-byte payload${he ? ', -H' : ''} (loopback UDP)`,
    values: { 'per s': rate, 'Mbit/s': (rate * FRAME_BYTES * BITS_PER_BYTE) / 1e6 },
  };
}

/** The state machine alone: receive() on an in-memory socket that discards what is sent. */
async function relayInMemory(): Promise<BenchResult> {
  let handler: ((d: Buffer, f: SockAddr) => void) | undefined;
  let sent = 0;
  const sock: UdpSocket = {
    local: { family: 4, address: LOCAL, port: 7654 },
    onDatagram: (h) => {
      handler = h;
    },
    send: () => {
      sent++;
    },
    close: () => {},
  };
  const sn = new Supernode({ port: 7654, bindAddress: LOCAL }, { openUdp: () => sock });
  await sn.start();
  const fa: SockAddr = { family: 4, address: '10.0.0.1', port: 1000 };
  const fb: SockAddr = { family: 4, address: '10.0.0.2', port: 1000 };
  handler!(registerSuper('bench', MAC_A, false), fa);
  handler!(registerSuper('bench', MAC_B, false), fb);
  const frame = Buffer.alloc(38 + FRAME_BYTES);
  writePacketHeader(frame, 0, 2, 0, communityBytes('bench'), MAC_A, MAC_B, undefined, 1, 1);
  const before = sent;
  const n = 200_000;
  const t0 = now();
  for (let i = 0; i < n; i++) handler!(frame, fa);
  const t = now() - t0;
  await sn.stop();
  if (sent - before !== n) throw new Error('in-memory relay bench: not every PACKET was relayed');
  const rate = (n * 1000) / t;
  return {
    section: SECTION,
    name: `PACKET relay, state machine only (no syscalls), ${FRAME_BYTES}-byte payload`,
    values: { 'per s': rate, 'Mbit/s': (rate * FRAME_BYTES * BITS_PER_BYTE) / 1e6 },
  };
}

export async function run(): Promise<BenchResult[]> {
  return [await registrations(), await relay(false), await relay(true), await relayInMemory()];
}
