// Every coverage-guided fuzz target (fuzz/, Jazzer.js + libFuzzer) runs ~20 s and must find nothing.
import { beforeAll, describe, expect, it } from 'vitest';
import { build, type FuzzResult, fuzzTarget, targets } from '../../fuzz/run.mjs';

const SECONDS = 20;
/** Targets fuzzed at once: the machine's two cores. */
const PARALLEL = 2;
/** Every target the fuzz/ folder holds (the runner lists them); a new file there is picked up here. */
const ALL = targets();
const BUILD_TIMEOUT_MS = 600_000;
const QUEUE_TIMEOUT_MS = 30 * 60_000;
/** Fewer executions than this in 20 s means the target did not really run. */
const MIN_EXECS = 500;

let running = 0;
const waiting: (() => void)[] = [];
async function slot<T>(f: () => Promise<T>): Promise<T> {
  if (running >= PARALLEL) await new Promise<void>((r) => waiting.push(r));
  running++;
  try {
    return await f();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

function tail(r: FuzzResult): string {
  return r.log.split('\n').slice(-40).join('\n');
}

describe.concurrent('fuzz targets (20 s each, two at a time)', () => {
  beforeAll(() => build(), BUILD_TIMEOUT_MS);

  it('covers every entry point named in the plan', () => {
    for (const t of [
      'wire-decode',
      'header-decrypt',
      'transform-null',
      'transform-twofish',
      'transform-aes',
      'transform-chacha20',
      'transform-speck',
      'lzo-decompress',
      'zstd-decompress',
      'supernode-udp',
      'supernode-tcp',
      'edge-udp',
      'mgmt-udp',
      'http-api',
    ]) {
      expect(ALL).toContain(t);
    }
  });

  for (const t of ALL) {
    it(
      t,
      async () => {
        const r = await slot(() => fuzzTarget(t, SECONDS, { quiet: true }));
        expect(r.crashed, `${t} found something (artifacts: ${r.artifacts.join(', ')})\n${tail(r)}`).toBe(
          false,
        );
        expect(r.execs, tail(r)).toBeGreaterThan(MIN_EXECS);
        expect(r.cov, tail(r)).toBeGreaterThan(0);
        expect(r.corpus, tail(r)).toBeGreaterThan(0);
      },
      QUEUE_TIMEOUT_MS,
    );
  }
});
