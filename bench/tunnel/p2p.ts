// bench:tunnel groups "p2p" and "he": iperf3 TCP a → b, edges P2P, per cipher, without and with header encryption.
import type { Case, Context } from './case.js';
import { throughput } from './measure.js';
import { withTunnel } from './setup.js';

export const CIPHER_NAMES: Readonly<Record<number, string>> = {
  1: 'null',
  2: 'Twofish',
  3: 'AES',
  4: 'ChaCha20',
  5: 'Speck',
};

/** One case per cipher of the run; `he` adds -H on both edges. */
export function p2pCases(ctx: Context, he: boolean): Case[] {
  return ctx.ciphers.map((cipher) => ({
    group: he ? 'he' : 'p2p',
    rows: [{ label: `P2P -A${cipher} ${CIPHER_NAMES[cipher]}${he ? ' -H' : ''}`, unit: 'Mbit/s' }],
    run: async (side) => [
      await withTunnel(ctx, { cipher, he, relay: false, sn: side, a: side, b: side }, (t) =>
        throughput(ctx, t, { dir: 'ab', relayed: false }),
      ),
    ],
  }));
}
