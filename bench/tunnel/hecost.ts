// bench:tunnel group "hecost": what -H costs, P2P, per cipher: pairs of runs without and with -H back to back.
import type { Case, Context, Impl, Sample } from './case.js';
import { throughput } from './measure.js';
import { CIPHER_NAMES } from './p2p.js';
import { withTunnel } from './setup.js';

/** One iperf3 TCP run a → b, P2P, of one side and cipher, ±-H. */
async function once(ctx: Context, side: Impl, cipher: number, he: boolean): Promise<Sample> {
  return withTunnel(ctx, { cipher, he, relay: false, sn: side, a: side, b: side }, (t) =>
    throughput(ctx, t, { dir: 'ab', relayed: false }),
  );
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * One case per cipher: `ctx.rounds` pairs per side, each pair a run without and one with -H, the order flipping
 * from pair to pair (no -H first, then -H first, …) so that load drift hits both alike. The row's value is the
 * median of the pairs' ratios (-H / no -H), with every pair's ratio and throughputs after it.
 */
export function heCostCases(ctx: Context): Case[] {
  return ctx.ciphers.map((cipher) => ({
    group: 'hecost',
    rows: [
      { label: `-H / no -H, P2P -A${cipher} ${CIPHER_NAMES[cipher]}, ${ctx.rounds} pairs`, unit: 'ratio' },
    ],
    run: async (side) => {
      const ratios: number[] = [];
      const pairs: string[] = [];
      for (let round = 0; round < ctx.rounds; round++) {
        const sealedFirst = round % 2 === 1;
        const first = await once(ctx, side, cipher, sealedFirst);
        const second = await once(ctx, side, cipher, !sealedFirst);
        const [plain, sealed] = sealedFirst ? [second, first] : [first, second];
        const error = plain.error ?? sealed.error;
        if (error) throw new Error(error);
        ratios.push(sealed.value / plain.value);
        pairs.push(`${Math.round(sealed.value)}/${Math.round(plain.value)}`);
      }
      return [
        {
          value: median(ratios),
          extra: `(pairs ${ratios.map((q) => q.toFixed(2)).join(' · ')}; Mbit/s ${pairs.join(' · ')})`,
        },
      ];
    },
  }));
}
