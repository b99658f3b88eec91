// bench:tunnel group "relay": iperf3 TCP a → b with both edges at -S1 (all through the supernode), -A3 and -A4.
import type { Case, Context } from './case.js';
import { throughput } from './measure.js';
import { CIPHER_NAMES } from './p2p.js';
import { withTunnel } from './setup.js';

/** Ciphers of the relayed rows (the table), narrowed by BENCH_CIPHERS. */
const RELAY_CIPHERS = [4, 3];

/**
 * Per cipher and -H: all tsn2n vs all C; then C edges with a tsn2n supernode vs C edges with a C supernode. The
 * CPU cell shows the supernode's CPU and its CPU time per packet it received.
 */
export function relayCases(ctx: Context): Case[] {
  const ciphers = RELAY_CIPHERS.filter((c) => ctx.ciphers.includes(c));
  const cases: Case[] = [];
  for (const cipher of ciphers.length > 0 ? ciphers : [ctx.mainCipher]) {
    for (const he of [false, true]) {
      const name = `relayed -A${cipher} ${CIPHER_NAMES[cipher]}${he ? ' -H' : ''}`;
      cases.push({
        group: 'relay',
        rows: [{ label: `${name} (all tsn2n vs all C)`, unit: 'Mbit/s' }],
        run: async (side) => [
          await withTunnel(ctx, { cipher, he, relay: true, sn: side, a: side, b: side }, (t) =>
            throughput(ctx, t, { dir: 'ab', relayed: true }),
          ),
        ],
      });
      cases.push({
        group: 'relay',
        rows: [{ label: `${name}, C edges: tsn2n supernode vs C supernode`, unit: 'Mbit/s' }],
        needsC: true,
        run: async (side) => [
          await withTunnel(ctx, { cipher, he, relay: true, sn: side, a: 'c', b: 'c' }, (t) =>
            throughput(ctx, t, { dir: 'ab', relayed: true }),
          ),
        ],
      });
    }
  }
  return cases;
}
