// bench:tunnel group "small": iperf3 UDP at 64- and 512-byte payloads, unlimited rate, both directions, P2P.
import type { Case, Context, Sample } from './case.js';
import { type Direction, throughput } from './measure.js';
import { withTunnel } from './setup.js';

/** UDP payload sizes, bytes. */
const PAYLOADS_BYTES = [64, 512];
const DIRECTIONS: readonly Direction[] = ['ab', 'ba'];

/** One setup per side carries all four runs (payload × direction). */
export function smallCases(ctx: Context): Case[] {
  const cipher = ctx.mainCipher;
  const runs = PAYLOADS_BYTES.flatMap((bytes) => DIRECTIONS.map((dir) => ({ bytes, dir })));
  return [
    {
      group: 'small',
      rows: runs.map(({ bytes, dir }) => ({
        label: `UDP ${bytes} B ${dir === 'ab' ? 'a → b' : 'b → a'} P2P -A${cipher} (received)`,
        unit: 'pkt/s',
      })),
      run: (side) =>
        withTunnel(ctx, { cipher, he: false, relay: false, sn: side, a: side, b: side }, async (t) => {
          const out: Sample[] = [];
          for (const { bytes, dir } of runs)
            out.push(await throughput(ctx, t, { dir, relayed: false, udpPayloadBytes: bytes }));
          return out;
        }),
    },
  ];
}
