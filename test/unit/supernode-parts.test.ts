// Supernode building blocks: tiny-regex-c semantics, community-file parsing, options, auto-IP vectors.
import { describe, expect, it } from 'vitest';
import { assignCommunitySubnet, assignEdgeAddress, wantsAutoIp } from '../../src/supernode/autoip.js';
import { Community, HeState } from '../../src/supernode/community.js';
import { parseCommunityList } from '../../src/supernode/community-list.js';
import {
  federationFullName,
  parseAutoIpRange,
  parsePeerSpec,
  resolveSupernodeOptions,
  setLocalUnicast,
} from '../../src/supernode/options.js';
import { CommunityPattern, isCommunityPattern } from '../../src/supernode/regex.js';
import { fixedString } from '../../src/util/bytes.js';
import { ConfigError } from '../../src/util/errors.js';
import { communityBytes } from '../../src/wire/common.js';

const m = (p: string, s: string) => new CommunityPattern(p).matchesWhole(s);

describe('community patterns (n2n_regex.c semantics)', () => {
  it('classes and ranges, full match only', () => {
    expect(m('ntop[0-1][0-9]', 'ntop15')).toBe(true);
    expect(m('ntop[0-1][0-9]', 'ntop25')).toBe(false);
    expect(m('ntop[0-1][0-9]', 'ntop1')).toBe(false);
    expect(m('ntop[0-1][0-9]', 'ntop150')).toBe(false);
    expect(m('ntop[0-1][0-9]', 'xntop15')).toBe(false);
  });

  it('quantifiers: * + greedy with backtracking, ? tries absence first', () => {
    expect(m('a.*z', 'abcz')).toBe(true);
    expect(m('a.*z', 'abc')).toBe(false);
    expect(m('ab+c', 'ac')).toBe(false);
    expect(m('ab+c', 'abbbc')).toBe(true);
    expect(m('ab?c', 'ac')).toBe(true);
    expect(m('ab?c', 'abc')).toBe(true);
    // The C matcher takes the first success: "ab?" matches "a" with length 1, so "ab" is not a full match.
    expect(m('ab?', 'ab')).toBe(false);
    expect(m('ab?', 'a')).toBe(true);
    expect(m('.*', '')).toBe(false);
    expect(m('.+', 'anything')).toBe(true);
  });

  it('meta classes, escapes, negated classes and dashes', () => {
    expect(m('net\\d\\d', 'net42')).toBe(true);
    expect(m('net\\d\\d', 'net4x')).toBe(false);
    expect(m('\\w+', 'a_b9')).toBe(true);
    expect(m('\\w+', 'a-b')).toBe(false);
    expect(m('a\\.b', 'a.b')).toBe(true);
    expect(m('a\\.b', 'axb')).toBe(false);
    expect(m('[^x]+', 'abc')).toBe(true);
    expect(m('[^x]+', 'axc')).toBe(false);
    // C stops at the first '-' of the class and accepts it only at either end: "[a-z-]" refuses '-',
    // because the range's own dash is met first.
    expect(m('[a-z-]+', 'ab-c')).toBe(false);
    expect(m('[-a]+', 'a-a')).toBe(true);
    expect(m('[\\d]+', '123')).toBe(true);
  });

  it('class buffer overflow makes the pattern never match', () => {
    const big = `[${'a'.repeat(45)}]`;
    expect(m(big, 'a')).toBe(false);
  });

  it('detects pattern words', () => {
    expect(isCommunityPattern('mynetwork')).toBe(false);
    expect(isCommunityPattern('ntop[0-1]')).toBe(true);
    expect(isCommunityPattern('a.b')).toBe(true);
  });
});

describe('parseCommunityList', () => {
  it('parses the upstream example file', () => {
    const text =
      '#\nmynetwork\nnetleo\n* logan nHWum+r42k1qDXdIeH-WFKeylK5UyLStRzxofRNAgpG\nntop[0-1][0-9]\nhome 192.168.168.0/24\n';
    const l = parseCommunityList(text);
    expect(l.communities.map((c) => c.name)).toEqual(['mynetwork', 'netleo', 'home']);
    expect(l.communities[1].users.map((u) => u.name)).toEqual(['logan']);
    expect(Buffer.from(l.communities[1].users[0].publicKey).toString('hex')).toBe(
      'c51838c3ed440ae0743619d2a11fe03d4a3cbd415ef157376fdef2a5b5caab34',
    );
    expect(l.communities[2].subnet).toEqual({ addr: 0xc0a8a800, bitlen: 24 });
    expect(l.patterns.map((p) => p.source)).toEqual(['ntop[0-1][0-9]']);
    expect(l.warnings).toEqual([]);
  });

  it('warns about bad subnets and keys, truncates names, handles CRLF and duplicates', () => {
    const text =
      'a 10.0.0.1/24\r\nb 10.0.0.0/31\r\nc nonsense\r\nabcdefghijklmnopqrstuvwxyz\r\n* bob short\r\nb\r\n';
    const l = parseCommunityList(text);
    expect(l.communities.map((c) => c.name)).toEqual(['a', 'c', 'abcdefghijklmnopqrs', 'b']);
    expect(l.communities.every((c) => c.subnet === undefined)).toBe(true);
    expect(l.warnings).toHaveLength(4);
  });

  it('a user line before any community is read as a pattern word, like C', () => {
    const l = parseCommunityList('* bob nHWum+r42k1qDXdIeH-WFKeylK5UyLStRzxofRNAgpG\n');
    expect(l.patterns.map((p) => p.source)).toEqual(['*']);
    expect(l.communities).toEqual([]);
  });
});

describe('options', () => {
  it('defaults of 3.1.1', () => {
    const c = resolveSupernodeOptions();
    expect(c.port).toBe(7654);
    expect(c.federationName).toBe('*Federation');
    expect(c.federationKeyName).toBe('*Federation');
    expect(c.version).toBe('3.1.1');
    expect(c.autoIp).toEqual({ min: 0x0a800000, max: 0x0affff00, bitlen: 24 });
    expect(c.maxEdgesPerCommunity).toBe(1024);
    expect(c.maxEdges).toBe(16384);
  });

  it('federation names are prefixed with * and cut to 18 characters', () => {
    expect(federationFullName('secretFed')).toBe('*secretFed');
    expect(federationFullName('*x')).toBe('*x');
    expect(federationFullName('abcdefghijklmnopqrstuvwxyz')).toBe('*abcdefghijklmnopq');
    expect(resolveSupernodeOptions({ federation: 'secretFed' }).federationKeyName).toBe('*Federation');
  });

  it('validates -a, -l, -m and -V', () => {
    expect(parseAutoIpRange('192.168.0.0-192.168.255.0/24')).toEqual({
      min: 0xc0a80000,
      max: 0xc0a8ff00,
      bitlen: 24,
    });
    for (const bad of [
      '10.0.0.0/24',
      '10.0.0.1-10.0.1.0/24',
      '10.1.0.0-10.0.0.0/24',
      '10.0.0.0-10.0.0.0/31',
      'x-y/8',
    ]) {
      expect(() => parseAutoIpRange(bad), bad).toThrow(ConfigError);
    }
    expect(parsePeerSpec('sn.example.org:7654')).toEqual({
      text: 'sn.example.org:7654',
      host: 'sn.example.org',
      port: 7654,
    });
    expect(() => parsePeerSpec('nohost')).toThrow(/no port/);
    expect(() => parsePeerSpec(`${'x'.repeat(45)}:7654`)).toThrow(/too long/);
    expect(setLocalUnicast(0x01_11_22_33_44_55)).toBe(0x02_11_22_33_44_55);
    expect(resolveSupernodeOptions({ mac: '11:22:33:44:55:66' }).mac).toBe(0x12_22_33_44_55_66);
    expect(resolveSupernodeOptions({ version: 'x'.repeat(30) }).version).toHaveLength(19);
    expect(() => resolveSupernodeOptions({ maxEdges: 0 })).toThrow(ConfigError);
  });
});

describe('auto IP (spec §9.4 vectors)', () => {
  const range = { min: 0x0a800000, max: 0x0affff00, bitlen: 24 };
  const comm = (name: string) =>
    new Community(name, communityBytes(name), { purgeable: true, he: HeState.NONE });

  it('community subnets', () => {
    const a = comm('mynetwork');
    const b = comm('netleo');
    expect(assignCommunitySubnet(a, [a], range)).toBe(true);
    expect(assignCommunitySubnet(b, [a, b], range)).toBe(true);
    expect(a.netAddr).toBe(0x0aa49400);
    expect(b.netAddr).toBe(0x0a8bcc00);
    // A colliding proposal moves down.
    const c = comm('mynetwork2');
    c.netAddr = 0;
    const clash = comm('mynetwork');
    assignCommunitySubnet(clash, [a, clash], range);
    expect(clash.netAddr).toBe(0x0aa49300);
    void c;
  });

  it('edge addresses from the description hash', () => {
    const a = comm('mynetwork');
    assignCommunitySubnet(a, [a], range);
    expect(assignEdgeAddress(a, fixedString('edgeA', 16)) & 0xff).toBe(69);
    expect(wantsAutoIp(0, 24)).toBe(true);
    expect(wantsAutoIp(0xa9fe0101, 16)).toBe(true);
    expect(wantsAutoIp(0x0a000001, 0)).toBe(true);
    expect(wantsAutoIp(0x0a000001, 24)).toBe(false);
  });
});
