// Ping RTT through tsn2n with and without the native fast path against C 3.1.1, alternating (root; `npm run bench:rtt`).
//
// Per round and configuration (CONFIGS: p2p, p2p-he, relay, relay-he; comma-separated), three tunnels one after the
// other, the order reversed every other round: tsn2n (native paths on), C, tsn2n with TSN2N_NATIVE_FASTPATH=0 and
// TSN2N_NATIVE_RELAY=0 (the edges' fast path and the supernode's native relay off). Each is
// COUNT pings 10 ms apart a → b, -A4. Prints each run and the median over ROUNDS of each p50 and average. C 3.1.1's
// edge and supernode are taken from N2N_REFERENCE_BIN (default /tmp/n2n-c/build).

import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab } from '../src/lab/index.js';
import { pingSeries } from './lab-extra.js';
import type { Context, Impl } from './tunnel/case.js';
import { A_IP, B_IP, B_VPN, COMMUNITY, SN_IP, startTunnel, UNDERLAY_MTU } from './tunnel/setup.js';

const mainJs = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const refBin = process.env.N2N_REFERENCE_BIN ?? '/tmp/n2n-c/build';
const lab = await Lab.create({ log: () => {} });
const communityFile = join(mkdtempSync(join(tmpdir(), 'tsn2n-rtt-')), 'community.list');
writeFileSync(communityFile, `${COMMUNITY}\n`);
const sn = await lab.publicHost('sn', `${SN_IP}/24`, { mtu: UNDERLAY_MTU });
const a = await lab.publicHost('a', `${A_IP}/24`, { mtu: UNDERLAY_MTU });
const b = await lab.publicHost('b', `${B_IP}/24`, { mtu: UNDERLAY_MTU });
const ctx: Context = {
  lab,
  sn,
  a,
  b,
  commands: {
    tsn2n: { edge: [process.execPath, mainJs, 'edge'], supernode: [process.execPath, mainJs, 'supernode'] },
    c: { edge: [join(refBin, 'edge')], supernode: [join(refBin, 'supernode')] },
  },
  seconds: 5,
  rounds: 1,
  ciphers: [4],
  mainCipher: 4,
  communityFile,
  log: () => {},
};
const rounds = Number(process.env.ROUNDS ?? 3);
const count = Number(process.env.COUNT ?? 200);
const configs = (process.env.CONFIGS ?? 'p2p').split(',');
const variants: { name: string; impl: Impl; fast: boolean }[] = [
  { name: 'tsn2n fast', impl: 'tsn2n', fast: true },
  { name: 'C', impl: 'c', fast: false },
  { name: 'tsn2n js', impl: 'tsn2n', fast: false },
];
const results: Record<string, number[][]> = {};
for (let r = 0; r < rounds; r++) {
  for (const cfgName of configs) {
    const he = cfgName.includes('he');
    const relay = cfgName.includes('relay');
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      process.env.TSN2N_NATIVE_FASTPATH = v.fast ? '1' : '0';
      process.env.TSN2N_NATIVE_RELAY = v.fast ? '1' : '0';
      const t = await startTunnel(ctx, { cipher: 4, he, relay, sn: v.impl, a: v.impl, b: v.impl });
      try {
        const s = await pingSeries(lab, a.ns, B_VPN, count, 0.01);
        const key = `${cfgName} ${v.name}`;
        const list = results[key] ?? [];
        list.push([s.p50Ms, s.avgMs, s.p99Ms]);
        results[key] = list;
        console.log(
          `round ${r} ${key}: p50 ${s.p50Ms.toFixed(3)} avg ${s.avgMs.toFixed(3)} p99 ${s.p99Ms.toFixed(3)} load ${loadavg()[0].toFixed(2)}`,
        );
      } finally {
        await t.stop();
      }
    }
  }
}
const med = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};
for (const [k, rs] of Object.entries(results)) {
  console.log(
    `${k}: median p50 ${med(rs.map((x) => x[0])).toFixed(3)} ms, median avg ${med(rs.map((x) => x[1])).toFixed(3)} ms (${rs.length} rounds)`,
  );
}
await lab.destroy();
