// Fuzz target: the edge's UDP receive path on in-memory deps (test/unit/edge-harness.ts), with and without -H.
import { ReceivePath } from '../src/edge/receive.js';
import { WireError } from '../src/util/errors.js';
import type { SockAddr } from '../src/util/ip.js';
import type { MemoryLogger } from '../src/util/log.js';
import { FakeSupernode, makeWorld, type TestNode, type World } from '../test/unit/edge-harness.js';
import { type Capture, captures, captureTimeMs, check, distinct } from './common.js';

// Configured as edge_b of the A3 captures (test/vectors/CAPTURES.md), so captured datagrams are meaningful to it.
const COMMUNITY = 'goldencomm';
const KEY = 'goldenkey';
const SN: SockAddr = { family: 4, address: '10.77.0.1', port: 7654 };
const PEER: SockAddr = { family: 4, address: '10.77.0.2', port: 50001 };
/** Selector byte: bit 0 = the -H edge, bit 1 = sent from the supernode's address (else from edge_a's). */
const SEL_HE = 1;
const SEL_FROM_SN = 2;
const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_SCAN = 64;
const INPUTS_PER_SECOND = 500;
/** The captures this edge is configured like: edge_b of A3 (AES), without and with -H. */
const PLAIN_CAPTURES = ['A3-aes-nohe', 'A3-aes-nohe-relay'];
const HE_CAPTURE = (): Capture => {
  const c = captures().find((x) => x.name === 'A3-aes-he');
  if (c === undefined) throw new Error('edge-udp: capture A3-aes-he missing');
  return c;
};
const MS_PER_SECOND = 1000;

/**
 * rxControl counts any exception as a decode drop (never thrown past the socket handler); here an exception
 * other than WireError is a bug to report, so it is recorded before the edge swallows it.
 */
let internal: unknown;
const proto = ReceivePath.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
const rxControl = proto.rxControl;
proto.rxControl = function (this: unknown, ...args: unknown[]): unknown {
  try {
    return rxControl.apply(this, args);
  } catch (e) {
    if (!(e instanceof WireError)) internal ??= e;
    throw e;
  }
};

interface Target {
  w: World;
  node: TestNode;
  at: SockAddr;
  fake: FakeSupernode;
}

async function start(he: boolean): Promise<Target> {
  const w = makeWorld();
  // The -H edge checks stamps (±16 s): its clock is moved to the time of the -H capture.
  if (he) w.clock.advance(captureTimeMs(HE_CAPTURE()) - w.clock.now());
  const fake = new FakeSupernode(w, SN.address, SN.port, { community: COMMUNITY, headerEncryption: he });
  const node = w.edge('10.77.0.3', {
    community: COMMUNITY,
    supernodes: [`${SN.address}:${SN.port}`],
    transform: 'aes',
    key: KEY,
    headerEncryption: he,
    compression: 'lzo',
    address: '172.29.0.2/24',
    mac: '02:00:00:bb:00:02',
  });
  await node.edge.start();
  await w.settle();
  let port = -1;
  for (let p = EPHEMERAL_FIRST; p < EPHEMERAL_FIRST + EPHEMERAL_SCAN && port < 0; p++) {
    if (w.net.socketAt(node.host, p)) port = p;
  }
  if (port < 0) throw new Error('edge-udp: the edge socket was not found');
  return { w, node, at: { family: 4, address: node.host, port }, fake };
}

const edges = [await start(false), await start(true)];
let inputs = 0;

/** Every datagram of those captures (whoever received it), prefixed with the selector of its edge and sender. */
export function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of captures().filter((x) => PLAIN_CAPTURES.includes(x.name) || x.name === HE_CAPTURE().name)) {
    for (const d of c.datagrams) {
      const sel = (c.headerEncryption ? SEL_HE : 0) | (d.from === 'supernode' ? SEL_FROM_SN : 0);
      out.push(Uint8Array.of(sel, ...d.wire));
    }
  }
  return distinct(out);
}

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const sel = data[0];
  const e = edges[sel & SEL_HE];
  e.w.net.inject((sel & SEL_FROM_SN) !== 0 ? SN : PEER, e.at, data.subarray(1));
  e.w.net.flush();
  check(internal === undefined, `rxControl threw ${String((internal as Error)?.stack ?? internal)}`);
  if (++inputs % INPUTS_PER_SECOND === 0) {
    // One second passes for the plain edge (timers, peer purges; the -H one must keep the capture's time); what
    // the harness records is dropped so memory stays flat.
    edges[0].w.clock.advance(MS_PER_SECOND);
    edges[0].w.net.flush();
    for (const x of edges) {
      x.fake.received.length = 0;
      x.node.tap.takeWritten();
      (x.node.logger as MemoryLogger).lines.length = 0;
    }
  }
}
