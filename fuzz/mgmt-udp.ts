// Fuzz target: the management port's text parsers (JSON request lines and legacy commands) of the edge and the supernode.

import { MgmtError } from '../src/management/core.js';
import { serveEdgeManagement } from '../src/management/edge.js';
import { SupernodeManagement } from '../src/management/supernode.js';
import type { SockAddr } from '../src/util/ip.js';
import { makeWorld } from '../test/unit/edge-harness.js';
import { advance, makeEnv, startSn } from '../test/unit/supernode-harness.js';
import { check } from './common.js';

const LOOPBACK = '127.0.0.1';
const EDGE_MGMT: SockAddr = { family: 4, address: LOOPBACK, port: 5644 };
const SN_MGMT: SockAddr = { family: 4, address: LOOPBACK, port: 5645 };
const CLIENT_PORT = 33333;
/** Selector byte: bit 0 = the supernode's port, else the edge's. */
const SEL_SN = 1;
const INPUTS_PER_SECOND = 500;
const KNOWN_ERRORS = new Set<string>(Object.values(MgmtError));

// The supernode on in-memory deps, with a community list so reload_communities has something to read.
const env = makeEnv(11);
env.files['/fuzz.list'] = 'goldencomm\nhome 192.168.168.0/24\n';
const sn = await startSn(env, { communityFile: '/fuzz.list' });
const snMgmt = new SupernodeManagement(sn, env.net.open(SN_MGMT.address, SN_MGMT.port), { onStop: () => {} });
const snClient = env.net.open(LOOPBACK, CLIENT_PORT);

// An edge on in-memory deps (no supernode answers; the commands read its tables all the same); stop is a no-op.
const w = makeWorld();
const node = w.edge('10.77.0.3', {
  community: 'goldencomm',
  supernodes: ['10.77.0.1:7654'],
  transform: 'aes',
  key: 'goldenkey',
  address: '172.29.0.2/24',
  mac: '02:00:00:bb:00:02',
});
await node.edge.start();
const edgeMgmt = serveEdgeManagement(node.edge, w.net.open(EDGE_MGMT.address, EDGE_MGMT.port), {
  onStop: () => {},
});
const edgeClient = w.net.open(LOOPBACK, CLIENT_PORT);

const replies: string[] = [];
snClient.onDatagram((d) => replies.push(d.toString('latin1')));
edgeClient.onDatagram((d) => replies.push(d.toString('latin1')));
let inputs = 0;

const COMMANDS = [
  'r 1 help',
  'r 2 help.events',
  'r 3 edges',
  'r 4 supernodes',
  'r 5 communities',
  'r 6 packetstats',
  'r 7 timestamps',
  'r 8 verbose',
  'r 9 drops',
  'w 10:1:n2n verbose 3',
  'w 11:1:n2n reload_communities',
  's 12:1:n2n peer',
  'w 13:1:n2n post.test hello',
  'r 14:1:wrong edges',
  'help',
  '',
  '+verb',
  '-verb',
  'reload_communities',
];

/** Every command of both ports (JSON and legacy), for each port. */
export function seeds(): Uint8Array[] {
  return COMMANDS.flatMap((c) => [0, SEL_SN].map((sel) => Uint8Array.of(sel, ...Buffer.from(c, 'latin1'))));
}

/**
 * The server never throws (the memory network would rethrow); a command that throws is answered with an error
 * whose text is the exception's — any error text outside MgmtError is such a bug.
 */
export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const toSn = (data[0] & SEL_SN) !== 0;
  const body = data.subarray(1);
  replies.length = 0;
  if (toSn) {
    snClient.send(body, 0, body.length, SN_MGMT);
    env.net.flush();
  } else {
    edgeClient.send(body, 0, body.length, EDGE_MGMT);
    w.net.flush();
  }
  for (const r of replies) {
    if (!r.startsWith('{')) continue;
    const o = JSON.parse(r) as { _type?: string; error?: string };
    if (o._type === 'error') check(KNOWN_ERRORS.has(o.error ?? ''), `a command threw: ${r}`);
  }
  if (++inputs % INPUTS_PER_SECOND === 0) {
    advance(env, 1);
    env.logger.lines.length = 0;
    node.logger.lines.length = 0;
  }
  void snMgmt;
  void edgeMgmt;
}
