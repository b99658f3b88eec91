// `tsn2n keygen` lines match n2n-keygen for the spec's §8.2 / §15.5 examples.
import { describe, expect, it } from 'vitest';
import { keygenLine } from '../../src/cli/keygen.js';

describe('keygen', () => {
  it('prints the community-file user line (user logan, password 007)', () => {
    expect(keygenLine('logan', '007')).toBe('* logan nHWum+r42k1qDXdIeH-WFKeylK5UyLStRzxofRNAgpG');
  });

  it('prints the federation key for -F', () => {
    expect(keygenLine('-F', 'secretFed')).toBe('-P opIyaWhWjKLJSNOHNpKnGmelhHWRqkmY5pAx7lbDHp4');
    expect(keygenLine('-F', 'Federation')).toBe('-P i0IuBFO0RC22m2Ya32uUUFUA2yfQSwsxVZ3-S5F2k7O');
  });
});
