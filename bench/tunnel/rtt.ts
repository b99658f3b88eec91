// bench:tunnel group "rtt": ping RTT a → b (200 pings 10 ms apart), P2P and relayed, without and with -H.
import type { Case, Context } from './case.js';
import { latency, PING_COUNT, PING_INTERVAL_S } from './measure.js';
import { withTunnel } from './setup.js';

const MS_PER_S = 1000;

export function rttCases(ctx: Context): Case[] {
  const cipher = ctx.mainCipher;
  const cases: Case[] = [];
  for (const relay of [false, true]) {
    for (const he of [false, true]) {
      const label = `ping RTT ${relay ? 'relayed' : 'P2P'} -A${cipher}${he ? ' -H' : ''} (avg of ${PING_COUNT} × ${PING_INTERVAL_S * MS_PER_S} ms)`;
      cases.push({
        group: 'rtt',
        rows: [{ label, unit: 'ms', lowerIsBetter: true }],
        run: async (side) => [
          await withTunnel(ctx, { cipher, he, relay, sn: side, a: side, b: side }, (t) =>
            latency(ctx, t, relay),
          ),
        ],
      });
    }
  }
  return cases;
}
