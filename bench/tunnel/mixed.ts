// bench:tunnel group "mixed": a tsn2n edge (a) ⇄ a C edge (b), P2P, TCP both directions, against all-C.
import type { Case, Context, Sample } from './case.js';
import { type Direction, throughput } from './measure.js';
import { withTunnel } from './setup.js';

const DIRECTIONS: readonly Direction[] = ['ab', 'ba'];

/**
 * Per -H: the tsn2n column is edge a tsn2n with edge b C (C supernode), the C column all C; each setup carries both
 * directions.
 */
export function mixedCases(ctx: Context): Case[] {
  const cipher = ctx.mainCipher;
  return [false, true].map((he) => ({
    group: 'mixed',
    needsC: true,
    rows: DIRECTIONS.map((dir) => ({
      label:
        `P2P -A${cipher}${he ? ' -H' : ''} mixed: ${dir === 'ab' ? 'tsn2n edge → C edge' : 'C edge → tsn2n edge'}` +
        ' (vs C → C)',
      unit: 'Mbit/s',
    })),
    run: (side) =>
      withTunnel(ctx, { cipher, he, relay: false, sn: 'c', a: side, b: 'c' }, async (t) => {
        const out: Sample[] = [];
        for (const dir of DIRECTIONS) out.push(await throughput(ctx, t, { dir, relayed: false }));
        return out;
      }),
  }));
}
