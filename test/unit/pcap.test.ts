// The decode tool's pcap reader: link types, byte orders, VLAN tags, IPv6, fragments and truncation.
import { describe, expect, it } from 'vitest';
import { LinkType, PcapFormatError, readPcap, writePcap } from '../../src/cli/pcap.js';

const PAYLOAD = Uint8Array.from([3, 2, 0, 1, 0xaa, 0xbb]);

/** An IPv4/UDP packet 10.0.0.1:1111 → 10.0.0.2:2222 (flags/fragment word and protocol adjustable). */
function ipv4Udp(payload: Uint8Array, fragWord = 0, proto = 17): Uint8Array {
  const total = 20 + 8 + payload.length;
  const p = new Uint8Array(total);
  p.set([0x45, 0, total >>> 8, total & 0xff, 0, 0, fragWord >>> 8, fragWord & 0xff, 64, proto, 0, 0]);
  p.set([10, 0, 0, 1, 10, 0, 0, 2], 12);
  p.set(
    [
      1111 >>> 8,
      1111 & 0xff,
      2222 >>> 8,
      2222 & 0xff,
      (8 + payload.length) >>> 8,
      (8 + payload.length) & 0xff,
    ],
    20,
  );
  p.set(payload, 28);
  return p;
}

function ipv6Udp(payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(40 + 8 + payload.length);
  const plen = 8 + payload.length;
  p.set([0x60, 0, 0, 0, plen >>> 8, plen & 0xff, 17, 64]);
  p[8] = 0xfe;
  p[9] = 0x80;
  p[23] = 1; // fe80::1
  p[24] = 0x20;
  p[25] = 0x01;
  p[26] = 0x0d;
  p[27] = 0xb8;
  p[39] = 2; // 2001:db8::2
  p.set([0x1d, 0xe6, 0x1d, 0xe7, plen >>> 8, plen & 0xff], 40);
  p.set(payload, 48);
  return p;
}

/** A pcap file with the given link type and frames; `le` chooses the byte order, `nanos` the ns magic. */
function pcap(
  linkType: number,
  frames: { data: Uint8Array; orig?: number }[],
  le = true,
  nanos = false,
): Uint8Array {
  const size = 24 + frames.reduce((n, f) => n + 16 + f.data.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, nanos ? 0xa1b23c4d : 0xa1b2c3d4, le);
  dv.setUint16(4, 2, le);
  dv.setUint16(6, 4, le);
  dv.setUint32(16, 65535, le);
  dv.setUint32(20, linkType, le);
  let o = 24;
  frames.forEach((f, i) => {
    dv.setUint32(o, 1_700_000_000 + i, le);
    dv.setUint32(o + 4, 500_000, le);
    dv.setUint32(o + 8, f.data.length, le);
    dv.setUint32(o + 12, f.orig ?? f.data.length, le);
    out.set(f.data, o + 16);
    o += 16 + f.data.length;
  });
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const eth = (type: number): Uint8Array =>
  Uint8Array.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, type >>> 8, type & 0xff]);

describe('readPcap', () => {
  it('Ethernet (with a VLAN tag), Linux SLL, SLL2, raw and BSD loopback give the same datagram', () => {
    const ip = ipv4Udp(PAYLOAD);
    const sll = new Uint8Array(16);
    sll[14] = 0x08;
    const sll2 = new Uint8Array(20);
    sll2[0] = 0x08;
    const cases: [number, Uint8Array][] = [
      [LinkType.ETHERNET, concat(eth(0x0800), ip)],
      // 802.1Q: type 0x8100, then the tag (VLAN 5) and the inner type.
      [LinkType.ETHERNET, concat(eth(0x8100), Uint8Array.from([0, 5, 0x08, 0x00]), ip)],
      [LinkType.LINUX_SLL, concat(sll, ip)],
      [LinkType.LINUX_SLL2, concat(sll2, ip)],
      [LinkType.RAW, ip],
      [LinkType.IPV4, ip],
      [LinkType.NULL, concat(Uint8Array.from([2, 0, 0, 0]), ip)],
    ];
    for (const [lt, frame] of cases) {
      const got = [...readPcap(pcap(lt, [{ data: frame }]))];
      expect(got.length, `link type ${lt}`).toBe(1);
      expect(got[0]).toMatchObject({ frame: 1, src: '10.0.0.1:1111', dst: '10.0.0.2:2222' });
      expect(got[0].error).toBeUndefined();
      expect([...(got[0].payload ?? [])]).toEqual([...PAYLOAD]);
    }
  });

  it('reads big-endian files and nanosecond time stamps', () => {
    const got = [...readPcap(pcap(LinkType.RAW, [{ data: ipv4Udp(PAYLOAD) }], false, true))];
    expect(got.length).toBe(1);
    expect(got[0].time).toBeCloseTo(1_700_000_000 + 500_000 / 1e9, 9);
    const us = [...readPcap(pcap(LinkType.RAW, [{ data: ipv4Udp(PAYLOAD) }], false, false))];
    expect(us[0].time).toBeCloseTo(1_700_000_000.5, 6);
  });

  it('IPv6 UDP', () => {
    const got = [...readPcap(pcap(LinkType.ETHERNET, [{ data: concat(eth(0x86dd), ipv6Udp(PAYLOAD)) }]))];
    expect(got[0]).toMatchObject({ src: '[fe80::1]:7654', dst: '[2001:db8::2]:7655' });
    expect([...(got[0].payload ?? [])]).toEqual([...PAYLOAD]);
  });

  it('skips non-UDP and non-IP frames and later fragments; reports first fragments and snap-length cuts', () => {
    const frames = [
      { data: concat(eth(0x0806), new Uint8Array(28)) }, // ARP
      { data: concat(eth(0x0800), ipv4Udp(PAYLOAD, 0, 6)) }, // TCP
      { data: concat(eth(0x0800), ipv4Udp(PAYLOAD, 0x2000)) }, // first fragment
      { data: concat(eth(0x0800), ipv4Udp(PAYLOAD, 0x0010)) }, // later fragment
      { data: concat(eth(0x0800), ipv4Udp(PAYLOAD)).subarray(0, 14 + 28 + 3), orig: 14 + 28 + 6 },
      { data: concat(eth(0x0800), ipv4Udp(PAYLOAD)) },
    ];
    const got = [...readPcap(pcap(LinkType.ETHERNET, frames))];
    expect(got.map((g) => g.frame)).toEqual([3, 5, 6]);
    expect(got[0].error).toMatch(/fragment/);
    expect(got[1].error).toMatch(/snap length/);
    expect(got[2].error).toBeUndefined();
  });

  it('a cut record ends the file with an error entry', () => {
    const file = pcap(LinkType.RAW, [{ data: ipv4Udp(PAYLOAD) }, { data: ipv4Udp(PAYLOAD) }]);
    const got = [...readPcap(file.subarray(0, file.length - 4))];
    expect(got.length).toBe(2);
    expect(got[1].error).toMatch(/truncated/);
    const got2 = [...readPcap(file.subarray(0, file.length - ipv4Udp(PAYLOAD).length - 8))];
    expect(got2[1].error).toMatch(/record header truncated/);
  });

  it('refuses what is not a classic pcap with a supported link type', () => {
    expect(() => [...readPcap(new Uint8Array(10))]).toThrow(PcapFormatError);
    expect(() => [...readPcap(Uint8Array.from([0x0a, 0x0d, 0x0d, 0x0a, ...new Uint8Array(40)]))]).toThrow(
      /pcapng/,
    );
    expect(() => [...readPcap(pcap(147, []))]).toThrow(/link type 147/);
  });

  it('writePcap output reads back', () => {
    const file = writePcap([{ src: ['10.77.0.2', 50001], dst: ['10.77.0.1', 7654], payload: PAYLOAD }]);
    const got = [...readPcap(file)];
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ src: '10.77.0.2:50001', dst: '10.77.0.1:7654' });
    expect([...(got[0].payload ?? [])]).toEqual([...PAYLOAD]);
  });
});
