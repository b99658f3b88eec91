// Fuzz target: the supernode's UDP datagram handler on in-memory deps (test/unit/supernode-harness.ts).
import { DropReason } from '../src/supernode/stats.js';
import type { Supernode } from '../src/supernode/supernode.js';
import { FakeClock } from '../src/util/clock.js';
import type { SockAddr } from '../src/util/ip.js';
import { advance, type Env, makeEnv, SN_IP, SN_PORT, startSn } from '../test/unit/supernode-harness.js';
import { captures, captureTimeMs, check, distinct } from './common.js';

// The captures' community, plus a subnet entry and a regular expression (the -c file of CAPTURES.md, widened).
const COMMUNITY = 'goldencomm';
const COMMUNITY_LIST = `${COMMUNITY}\nhome 192.168.168.0/24\nntop[0-1][0-9]\n`;
/**
 * Selector byte: bit 0 = a -H supernode (it locks the community to encrypted headers), bits 1.. = which one: each
 * -H capture has its own, its clock at the capture's time (stamps are checked to ±16 s).
 */
const SEL_HE = 1;
const SENDERS = 4;
/** Inputs between one-second clock steps (plaintext supernode), so registrations expire and purges run. */
const INPUTS_PER_SECOND = 500;

async function start(seed: number, clockMs?: number): Promise<{ env: Env; sn: Supernode }> {
  const env = makeEnv(seed);
  if (clockMs !== undefined) env.clock = new FakeClock(clockMs);
  env.files['/fuzz.list'] = COMMUNITY_LIST;
  return { env, sn: await startSn(env, { communityFile: '/fuzz.list' }) };
}

const heCaptures = captures().filter((c) => c.headerEncryption);
const plain = await start(7);
const encrypted = await Promise.all(heCaptures.map((c, i) => start(8 + i, captureTimeMs(c))));
const to: SockAddr = { family: 4, address: SN_IP, port: SN_PORT };
const from: SockAddr[] = Array.from({ length: SENDERS }, (_, i) => ({
  family: 4,
  address: `10.77.0.${2 + i}`,
  port: 50001 + i,
}));
let inputs = 0;

/** Every datagram the captured supernodes received, prefixed with the selector of the matching supernode. */
export function seeds(): Uint8Array[] {
  return distinct(
    captures().flatMap((c) =>
      c.datagrams
        .filter((d) => d.to === 'supernode')
        .map((d) => Uint8Array.of(c.headerEncryption ? SEL_HE | (heCaptures.indexOf(c) << 1) : 0, ...d.wire)),
    ),
  );
}

/** The handler drops and counts bad input; an exception (the memory network rethrows it) or an internal drop fails. */
export function fuzz(data: Buffer): void {
  if (data.length === 0) return;
  const { env, sn } = (data[0] & SEL_HE) === 0 ? plain : encrypted[(data[0] >> 1) % encrypted.length];
  const body = data.subarray(1);
  env.net.inject(from[body.length % SENDERS], to, body);
  env.net.flush();
  check(
    sn.stats.drops[DropReason.INTERNAL] === 0,
    `internal error: ${env.logger.lines.slice(-3).join(' | ')}`,
  );
  if (++inputs % INPUTS_PER_SECOND === 0) {
    // Only the plaintext supernode's clock moves: the -H one must stay within ±16 s of the captured stamps.
    advance(plain.env, 1);
    for (const s of [plain, ...encrypted]) s.env.logger.lines.length = 0;
  }
}
