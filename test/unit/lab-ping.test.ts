// The lab's reading of iputils ping output: the SIGQUIT progress line and the answers to the first N requests.
import { describe, expect, it } from 'vitest';
import { PING_PROGRESS_RE, pingAnswered } from '../../src/lab/probes.js';

// Shaped like iputils-ping 20240117 output, with a SIGQUIT report in the middle and a late answer after it.
const OUTPUT = [
  'PING 10.86.0.1 (10.86.0.1) 56(84) bytes of data.',
  '64 bytes from 10.86.0.1: icmp_seq=1 ttl=64 time=0.500 ms',
  '64 bytes from 10.86.0.1: icmp_seq=3 ttl=64 time=1.50 ms',
  '2/4 packets, 50% loss, min/avg/ewma/max = 0.500/1.000/0.700/1.500 ms',
  '64 bytes from 10.86.0.1: icmp_seq=4 ttl=64 time=40.0 ms',
  '64 bytes from 10.86.0.1: icmp_seq=5 ttl=64 time=0.400 ms',
  '',
  '--- 10.86.0.1 ping statistics ---',
  '5 packets transmitted, 4 received, 20% packet loss, time 40ms',
].join('\n');

describe('pingAnswered', () => {
  it('reads how many requests were sent from the SIGQUIT line', () => {
    const m = OUTPUT.match(PING_PROGRESS_RE);
    expect(m?.[1]).toBe('2');
    expect(m?.[2]).toBe('4');
  });

  it('counts answers to the first N requests only, late ones included', () => {
    const r = pingAnswered(OUTPUT, 4);
    expect(r.transmitted).toBe(4);
    expect(r.received).toBe(3);
    expect(r.minMs).toBe(0.5);
    expect(r.maxMs).toBe(40);
    expect(r.avgMs).toBeCloseTo(14, 6);
  });

  it('gives NaN RTTs and zero answers when nothing came back', () => {
    const r = pingAnswered('PING 10.86.0.1 (10.86.0.1) 56(84) bytes of data.\n', 3);
    expect(r.received).toBe(0);
    expect(Number.isNaN(r.avgMs)).toBe(true);
  });
});
