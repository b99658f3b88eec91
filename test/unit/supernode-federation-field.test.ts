// The federation's community field reproduces C 3.1.1's snprintf-over-"*Federation" bytes (supernode.c: -F).
import { describe, expect, it } from 'vitest';
import { federationField } from '../../src/supernode/options.js';
import { toHex } from '../../src/util/bytes.js';
import { communityBytes } from '../../src/wire/common.js';

describe('federation community field', () => {
  it('is the plain name when -F is not given or equals the key name', () => {
    expect(federationField('*Federation', '*Federation')).toEqual(communityBytes('*Federation'));
    expect(federationField('*envfed', '*envfed')).toEqual(communityBytes('*envfed'));
  });

  it('keeps the tail of the longer key name after the NUL, like snprintf over the old buffer', () => {
    const f = federationField('*Federation', '*e2efed');
    // "*e2efed" NUL, then "ion" left from "*Federation", then zeros.
    expect(toHex(f)).toBe(`${Buffer.from('*e2efed\0ion').toString('hex')}${'00'.repeat(9)}`);
  });

  it('leaves nothing behind when the new name is as long or longer (the spec example *secretFed)', () => {
    expect(federationField('*Federation', '*secretFed')).toEqual(communityBytes('*secretFed'));
    expect(federationField('*Federation', '*averylongfedname')).toEqual(communityBytes('*averylongfedname'));
  });

  it('truncates to 18 characters like snprintf(…, 19, "*%s")', () => {
    const f = federationField('*Federation', '*abcdefghijklmnopqrstuvwxyz');
    expect(Buffer.from(f.subarray(0, 18)).toString()).toBe('*abcdefghijklmnopq');
    expect(f[18]).toBe(0);
    expect(f[19]).toBe(0);
  });
});
