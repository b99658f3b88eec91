// SnPeer keeps desc and the auth token as byte strings: every byte value survives, comparisons match the old ones.
import { describe, expect, it } from 'vitest';
import { SnPeer } from '../../src/supernode/community.js';
import { StampRecord } from '../../src/transform/stamp.js';

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

describe('SnPeer byte fields', () => {
  it('returns desc and token byte for byte, zeros and bytes ≥ 0x80 included, as copies', () => {
    const p = new SnPeer(1, new StampRecord());
    expect(p.desc).toEqual(new Uint8Array(16));
    expect(p.authToken).toEqual(new Uint8Array(0));
    const desc = Uint8Array.from([0x61, 0, 0xff, 0x80, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0xfe]);
    p.desc = desc;
    p.authToken = ALL_BYTES;
    desc[0] = 0;
    expect(p.desc).toEqual(Uint8Array.from([0x61, 0, 0xff, 0x80, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0xfe]));
    expect(p.authToken).toEqual(ALL_BYTES);
    p.desc[1] = 9;
    expect(p.desc[1]).toBe(0);
  });

  it('authTokenEquals: whole token, or a prefix both hold', () => {
    const p = new SnPeer(1, new StampRecord());
    p.authToken = Uint8Array.from([1, 2, 0x90, 4]);
    expect(p.authTokenEquals(Uint8Array.from([1, 2, 0x90, 4]))).toBe(true);
    expect(p.authTokenEquals(Uint8Array.from([1, 2, 0x90]))).toBe(false);
    expect(p.authTokenEquals(Uint8Array.from([1, 2, 0x90, 4, 5]))).toBe(false);
    expect(p.authTokenEquals(Uint8Array.from([1, 2, 0x91, 4]))).toBe(false);
    expect(p.authTokenEquals(Uint8Array.from([1, 2, 0x90, 9, 9]), 3)).toBe(true);
    expect(p.authTokenEquals(Uint8Array.from([1, 2]), 3)).toBe(false);
    expect(p.authTokenEquals(Uint8Array.from([1, 2, 0x90, 4, 5]), 5)).toBe(false);
    expect(p.authTokenEquals(new Uint8Array(0))).toBe(false);
  });
});
