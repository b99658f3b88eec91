// The package entry point exposes Edge and Supernode and they run together in memory through it.
import { describe, expect, it } from 'vitest';
import * as tsn2n from '../../src/index.js';

describe('library entry point', () => {
  it('exports the main classes and the layer namespaces', () => {
    expect(typeof tsn2n.Edge).toBe('function');
    expect(typeof tsn2n.Supernode).toBe('function');
    expect(typeof tsn2n.wire.decodeMessage).toBe('function');
    expect(typeof tsn2n.transform.createTransform).toBe('function');
    expect(typeof tsn2n.io.MemoryNetwork).toBe('function');
  });

  it('a Supernode starts and stops on an in-memory network', async () => {
    const net = new tsn2n.io.MemoryNetwork();
    const clock = new tsn2n.FakeClock();
    const sn = new tsn2n.Supernode(
      { port: 7654 },
      {
        clock,
        random: new tsn2n.SeededRandom(1),
        openUdp: async (address: string, port: number) =>
          net.open(address === '0.0.0.0' ? '10.0.0.1' : address, port),
      },
    );
    await sn.start();
    expect(sn.running).toBe(true);
    await sn.stop();
    expect(sn.running).toBe(false);
  });
});
