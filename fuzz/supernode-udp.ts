// Fuzz target: the supernode's UDP datagram handler on in-memory deps (test/unit/supernode-harness.ts).
import { DropReason } from '../src/supernode/stats.js';
import type { SockAddr } from '../src/util/ip.js';
import { advance, makeEnv, SN_IP, SN_PORT, startSn } from '../test/unit/supernode-harness.js';
import { captures, check, distinct } from './common.js';

// The captures' community (header-encrypted in the -H scenarios), plus a subnet entry and a regular expression.
const COMMUNITY_LIST = 'goldencomm\nhome 192.168.168.0/24\nntop[0-1][0-9]\n';
const SENDERS = 4;
/** Inputs between one-second clock steps, so registrations expire and the purge timers run. */
const INPUTS_PER_SECOND = 500;

const env = makeEnv(7);
env.files['/fuzz.list'] = COMMUNITY_LIST;
const sn = await startSn(env, { communityFile: '/fuzz.list' });
const to: SockAddr = { family: 4, address: SN_IP, port: SN_PORT };
const from: SockAddr[] = Array.from({ length: SENDERS }, (_, i) => ({
  family: 4,
  address: `10.77.0.${2 + i}`,
  port: 50001 + i,
}));
let inputs = 0;

/** Every datagram the captured supernodes received (all schemes, with and without -H). */
export function seeds(): Uint8Array[] {
  return distinct(
    captures().flatMap((c) => c.datagrams.filter((d) => d.to === 'supernode').map((d) => d.wire)),
  );
}

/** The handler drops and counts bad input; an exception (the memory network rethrows it) or an internal drop fails. */
export function fuzz(data: Buffer): void {
  env.net.inject(from[data.length % SENDERS], to, data);
  env.net.flush();
  check(sn.stats.drops[DropReason.INTERNAL] === 0, 'the supernode counted an internal error');
  if (++inputs % INPUTS_PER_SECOND === 0) {
    advance(env, 1);
    env.logger.lines.length = 0;
  }
}
