// Fuzz target: the supernode's TCP stream (2-byte length framing, then the datagram handler), on in-memory deps.
import { DropReason } from '../src/supernode/stats.js';
import { advance, FakeTcp, frame, makeEnv, startSn } from '../test/unit/supernode-harness.js';
import { captures, check, distinct } from './common.js';

const COMMUNITY_LIST = 'goldencomm\nhome 192.168.168.0/24\n';
/** Each input is one connection; its first byte cuts the rest into writes of 1..256 bytes (segment boundaries). */
const CHUNK_MAX = 256;
const INPUTS_PER_SECOND = 500;
const CONNECTIONS = 8;

const env = makeEnv(17);
env.files['/fuzz.list'] = COMMUNITY_LIST;
const sn = await startSn(env, { communityFile: '/fuzz.list', tcp: true });
let inputs = 0;

/** Consecutive plaintext datagrams the captured supernodes received, framed as an `edge -S2` sends them. */
export function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of captures().filter((x) => !x.headerEncryption)) {
    const toSn = c.datagrams.filter((d) => d.to === 'supernode');
    for (let i = 0; i + 1 < toSn.length; i++) {
      out.push(Buffer.concat([Uint8Array.of(CHUNK_MAX - 1), frame(toSn[i].wire), frame(toSn[i + 1].wire)]));
    }
  }
  return distinct(out);
}

export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const accept = env.tcpAccept;
  check(accept !== undefined, 'the supernode does not listen on TCP');
  const conn = new FakeTcp({ family: 4, address: '10.7.0.1', port: 40000 + (inputs % CONNECTIONS) });
  accept!(conn);
  const chunk = 1 + (data[0] % CHUNK_MAX);
  for (let at = 1; at < data.length && !conn.closed; at += chunk) {
    conn.write(data.subarray(at, Math.min(data.length, at + chunk)));
    env.net.flush();
  }
  if (!conn.closed) conn.hangUp();
  env.net.flush();
  check(
    sn.stats.drops[DropReason.INTERNAL] === 0,
    `internal error: ${env.logger.lines.slice(-3).join(' | ')}`,
  );
  if (++inputs % INPUTS_PER_SECOND === 0) {
    advance(env, 1);
    env.logger.lines.length = 0;
  }
}
