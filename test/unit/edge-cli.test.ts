// `tsn2n edge` argument parsing (flags, config file, environment), option validation and -R traffic rules.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseEdgeArgs } from '../../src/cli/edge.js';
import {
  AddressMode,
  parseTrafficRule,
  resolveEdgeOptions,
  TrafficFilter,
  trafficRuleToString,
} from '../../src/edge/index.js';
import { ConfigError } from '../../src/util/errors.js';
import { ipv4ToNumber } from '../../src/util/ip.js';
import { CompressionId, TransformId } from '../../src/wire/types.js';
import { ipv4Frame } from './edge-harness.js';

function config(args: string[], env: NodeJS.ProcessEnv = {}) {
  return resolveEdgeOptions(parseEdgeArgs(args, env).options);
}

function configError(args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    config(args, env);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof CommanderError) return e.message;
    throw e;
  }
  throw new Error(`no error for ${args.join(' ')}`);
}

describe('edge command line', () => {
  it('maps n2n flags to the configuration', () => {
    const c = config([
      '-c',
      'mynet',
      '-l',
      'sn1.example:7654',
      '-l',
      '10.0.0.1:1234',
      '-k',
      'secret',
      '-A5',
      '-H',
      '-z1',
      '-a',
      'static:10.9.0.5/16',
      '-m',
      '02:11:22:33:44:55',
      '-d',
      'n2n0',
      '-M',
      '1400',
      '-p',
      '192.168.1.2:50001',
      '-e',
      'auto',
      '-S1',
      '-i',
      '30',
      '-L',
      '3',
      '--select-rtt',
      '-r',
      '-E',
      '-I',
      'laptop',
      '-R',
      '10.0.0.0/8,10.0.0.0/8,TCP+',
      '-n',
      '192.168.5.0/24:10.9.0.1',
      '-f',
      '-T',
      '0x48',
    ]);
    expect(c.community).toBe('mynet');
    expect(c.supernodes.map((s) => s.text)).toEqual(['sn1.example:7654', '10.0.0.1:1234']);
    expect(c.transform).toBe(TransformId.SPECK);
    expect(c.key).toBe('secret');
    expect(c.headerEncryption).toBe(true);
    expect(c.compression).toBe(CompressionId.LZO);
    expect(c.addressMode).toBe(AddressMode.STATIC);
    expect(c.address).toBe(ipv4ToNumber('10.9.0.5'));
    expect(c.prefixBits).toBe(16);
    expect(c.mac).toBe(0x02_11_22_33_44_55);
    expect(c.device).toBe('n2n0');
    expect(c.mtu).toBe(1400);
    expect(c.bindAddress).toBe('192.168.1.2');
    expect(c.localPort).toBe(50001);
    expect(c.preferredAddress).toBe('auto');
    expect(c.p2p).toBe(false);
    expect(c.registerInterval).toBe(30);
    expect(c.registerTtl).toBe(3);
    expect(c.selection).toBe('rtt');
    expect(c.allowRouting).toBe(true);
    expect(c.acceptMulticast).toBe(true);
    expect(c.description).toBe('laptop');
    expect(c.rules.length).toBe(1);
    expect(c.routes).toEqual([
      { net: ipv4ToNumber('192.168.5.0'), bits: 24, gateway: ipv4ToNumber('10.9.0.1') },
    ]);
    expect(c.tos).toBe(0x48);
  });

  it('applies n2n defaults: a key alone means AES, no -a means supernode-assigned, MTU 1290', () => {
    const c = config(['-c', 'n', '-l', 'h:1', '-k', 'k']);
    expect(c.transform).toBe(TransformId.AES);
    expect(c.addressMode).toBe(AddressMode.SUPERNODE);
    expect(c.mtu).toBe(1290);
    expect(c.device).toBe('edge0');
    expect(c.p2p).toBe(true);
    expect(c.selection).toBe('load');
    expect(config(['-c', 'n', '-l', 'h:1', '-A', '-k', 'k']).transform).toBe(TransformId.AES);
    expect(config(['-c', 'n', '-l', 'h:1', '-z']).compression).toBe(CompressionId.LZO);
    expect(config(['-c', 'n', '-l', 'h:1', '-a', 'dhcp:0.0.0.0', '-r']).addressMode).toBe(AddressMode.DHCP);
    expect(config(['-c', 'n', '-l', 'h:1', '-p', '7777']).localPort).toBe(7777);
    expect(config(['-c', 'n', '-l', 'h:1', '-p', '10.1.1.1']).bindAddress).toBe('10.1.1.1');
    // Community and description are truncated like the C fields.
    expect(config(['-c', 'a-very-long-community-name', '-l', 'h:1']).community).toBe('a-very-long-communi');
    expect(config(['-c', 'n', '-l', 'h:1', '-I', 'a-long-description']).description).toBe('a-long-descript');
  });

  it('reads N2N_KEY, N2N_COMMUNITY and N2N_PASSWORD, flags win', () => {
    const env = { N2N_KEY: 'envkey', N2N_COMMUNITY: 'envnet', N2N_PASSWORD: 'envpw' };
    const c = config(['-l', 'h:1', '-A4', '-I', 'bob'], env);
    expect(c.community).toBe('envnet');
    expect(c.key).toBe('envkey');
    expect(c.password).toBe('envpw');
    expect(c.headerEncryption).toBe(true);
    expect(config(['-c', 'cli', '-l', 'h:1', '-A4', '-k', 'k2', '-J', 'pw2'], env)).toMatchObject({
      community: 'cli',
      key: 'k2',
      password: 'pw2',
    });
  });

  it('reads a config file first and lets the command line override it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsn2n-edge-'));
    const file = join(dir, 'edge.conf');
    writeFileSync(
      file,
      [
        '# n2n edge configuration',
        '-c=filenet',
        '-l supernode.example:7654',
        '--tap-device=n2n9',
        '-k=a key with spaces',
        '-A3',
        '-M 1300',
        '-v',
        '',
      ].join('\n'),
    );
    const p = parseEdgeArgs([file, '-l', 'other:1', '-M', '1200', '-v']);
    const c = resolveEdgeOptions(p.options);
    expect(c.community).toBe('filenet');
    expect(c.device).toBe('n2n9');
    expect(c.key).toBe('a key with spaces');
    expect(c.transform).toBe(TransformId.AES);
    expect(c.supernodes.map((s) => s.text)).toEqual(['supernode.example:7654', 'other:1']);
    expect(c.mtu).toBe(1200);
    expect(p.raw.verbose).toBe(2);
  });

  it('names the flag in every error', () => {
    expect(configError([])).toMatch(/^-c: a community name is required/);
    expect(configError(['-c', 'n', '-l', 'nohostport'])).toMatch(/^-l: missing port/);
    expect(configError(['-c', 'n', '-l', 'h:1', '-A7'])).toMatch(/^-A7: unknown cipher/);
    expect(configError(['-c', 'n', '-l', 'h:1', '-A3'])).toMatch(/^-A3: a cipher needs a key/);
    expect(configError(['-c', 'n', '-l', 'h:1', '-z2'])).toMatch(/^-z2: zstd compression is not supported/);
    expect(configError(['-c', 'n', '-l', 'h:1', '-k', 'k', '-J', 'pw'])).toMatch(
      /^-J: .*ChaCha20 \(-A4\) or Speck/,
    );
    expect(configError(['-c', 'n', '-l', 'h:1', '-P', 'short'])).toMatch(/^-P: /);
    expect(configError(['-c', 'n', '-l', 'h:1', '-a', '10.0.0.1/40'])).toMatch(/^-a: /);
    expect(configError(['-c', 'n', '-l', 'h:1', '-m', '01:00:5e:00:00:01'])).toMatch(/^-m: .*unicast/);
    expect(configError(['-c', 'n', '-l', 'h:1', '-n', '10.0.0.0/8'])).toMatch(/^-n: invalid route/);
    expect(configError(['-c', 'n', '-l', 'h:1', '-R', '1.2.3.4,5.6.7.8,FTP+'])).toMatch(/^-R: invalid rule/);
    expect(configError(['-c', 'n', '-l', 'h:1', '-M', '9000'])).toMatch(/-M expects a number 68\.\.1972/);
    expect(configError(['-c', 'n', '-l', 'h:1', '-p', '1.2.3.4:99999'])).toMatch(/^-p: invalid port/);
    expect(configError(['-c', 'n', '-l', 'h:1', '--bogus'])).toMatch(/unknown option '--bogus'/);
    expect(configError(['-c', 'n', '-l', 'h:1', '-e', 'nonsense'])).toMatch(/^-e: /);
    expect(configError(['-c', '*fed', '-l', 'h:1'])).toMatch(/^-c: .*may not start with '\*'/);
    expect(configError(['-c', 'n', '--mss-clamp=big'])).toBe(
      "--mss-clamp=big: expected 'auto' or an MSS in bytes (48..65495)",
    );
    expect(configError(['-c', 'n', '--mss-clamp=20'])).toMatch(/^--mss-clamp=20: expected 'auto' or an MSS/);
    expect(configError(['-c', 'n', '--mss-clamp=99999'])).toMatch(/^--mss-clamp=99999: /);
    expect(configError(['-c', 'n', '--mss-clamp=-5'])).toMatch(/^--mss-clamp=-5: /);
    expect(configError(['-c', 'n', '--mss-clamp=1e3'])).toMatch(/^--mss-clamp=1e3: /);
  });

  it("runs the design card's command: no -l means the supernode on 127.0.0.1:7654 (3.1.1 refuses)", () => {
    const p = parseEdgeArgs(['-c', 'community', '-k', 'key', '-a', '172.29.0.5']);
    expect(p.defaultSupernode).toBe(true);
    const c = resolveEdgeOptions(p.options);
    expect(c.supernodes).toEqual([{ host: '127.0.0.1', port: 7654, text: '127.0.0.1:7654' }]);
    expect(c.transform).toBe(TransformId.AES);
    expect(c.addressMode).toBe(AddressMode.STATIC);
    expect(c.address).toBe(ipv4ToNumber('172.29.0.5'));
    // Any -l, on the command line or in the config file, replaces the default.
    expect(parseEdgeArgs(['-c', 'n', '-l', 'sn:7777']).defaultSupernode).toBe(false);
    expect(config(['-c', 'n', '-l', 'sn:7777']).supernodes.map((s) => s.text)).toEqual(['sn:7777']);
    const file = join(mkdtempSync(join(tmpdir(), 'tsn2n-edge-')), 'edge.conf');
    writeFileSync(file, '-c=n\n-l=sn.example:7654\n');
    const fromFile = parseEdgeArgs([file]);
    expect(fromFile.defaultSupernode).toBe(false);
    expect(fromFile.options.supernodes).toEqual(['sn.example:7654']);
    // The library keeps asking for an explicit list: only the command line has a default.
    expect(() => resolveEdgeOptions({ community: 'n', supernodes: [] })).toThrow(
      /^-l: at least one supernode \(host:port\) is required$/,
    );
  });

  it('parses --mss-clamp[=auto|N]; off by default like 3.1.1', () => {
    expect(config(['-c', 'n']).mssClamp).toBeUndefined();
    expect(config(['-c', 'n', '--mss-clamp']).mssClamp).toBe('auto');
    expect(config(['-c', 'n', '--mss-clamp=auto']).mssClamp).toBe('auto');
    expect(config(['-c', 'n', '--mss-clamp=1300']).mssClamp).toBe(1300);
    expect(config(['-c', 'n', '--mss-clamp', '1300', '-M', '1400']).mssClamp).toBe(1300);
    expect(config(['-c', 'n', '--mss-clamp', '-M', '1400'])).toMatchObject({ mssClamp: 'auto', mtu: 1400 });
    expect(config(['-c', 'n', '--mss-clamp=48']).mssClamp).toBe(48);
    expect(config(['-c', 'n', '--mss-clamp=65495']).mssClamp).toBe(65495);
    expect(resolveEdgeOptions({ community: 'n', supernodes: ['h:1'], mssClamp: 1200 }).mssClamp).toBe(1200);
    expect(() => resolveEdgeOptions({ community: 'n', supernodes: ['h:1'], mssClamp: 1200.5 })).toThrow(
      /^--mss-clamp=1200.5: /,
    );
    // In a config file: a bare line and the attached form.
    const dir = mkdtempSync(join(tmpdir(), 'tsn2n-edge-'));
    writeFileSync(join(dir, 'a.conf'), '-c=n\n--mss-clamp\n');
    writeFileSync(join(dir, 'b.conf'), '-c=n\n--mss-clamp=1360\n');
    expect(config([join(dir, 'a.conf')]).mssClamp).toBe('auto');
    expect(config([join(dir, 'b.conf')]).mssClamp).toBe(1360);
    expect(config([join(dir, 'b.conf'), '--mss-clamp=auto']).mssClamp).toBe('auto');
  });
});

describe('-R traffic rules', () => {
  const A = 0x02_00_00_00_00_0a;
  const B = 0x02_00_00_00_00_0b;

  it('parses the n2n syntax and prints it back', () => {
    expect(trafficRuleToString(parseTrafficRule('192.168.1.0/24:[80,90],10.0.0.1:53,TCP+,UDP-'))).toBe(
      '192.168.1.0/24:[80,90],10.0.0.1/32:[53,53],TCP+,UDP-',
    );
    expect(trafficRuleToString(parseTrafficRule('0.0.0.0/0,0.0.0.0/0,TCP-,UDP-,ICMP-'))).toBe(
      '0.0.0.0/0:[0,65535],0.0.0.0/0:[0,65535],TCP-,UDP-,ICMP-',
    );
  });

  it('drops what a rule forbids, prefers the more specific rule, accepts unmatched traffic', () => {
    const f = new TrafficFilter([
      parseTrafficRule('0.0.0.0/0,0.0.0.0/0,TCP-,UDP-,ICMP-'),
      parseTrafficRule('10.1.0.0/24,10.1.0.0/24,ICMP+'),
      parseTrafficRule('10.1.0.0/24,10.1.0.2:53,UDP+'),
    ]);
    const udp53 = ipv4Frame(B, A, '10.1.0.1', '10.1.0.2', 20, 17);
    const udpOther = ipv4Frame(B, A, '10.1.0.1', '10.1.0.3', 20, 17);
    const icmp = ipv4Frame(B, A, '10.1.0.1', '10.1.0.2', 20, 1);
    const icmpOut = ipv4Frame(B, A, '10.1.0.1', '8.8.8.8', 20, 1);
    const igmp = ipv4Frame(B, A, '10.1.0.1', '224.0.0.1', 20, 2);
    expect(f.accepts(udp53, 0, udp53.length)).toBe(true);
    expect(f.accepts(udpOther, 0, udpOther.length)).toBe(false);
    expect(f.accepts(icmp, 0, icmp.length)).toBe(true);
    expect(f.accepts(icmpOut, 0, icmpOut.length)).toBe(false);
    expect(f.accepts(igmp, 0, igmp.length)).toBe(true);
    const arp = new Uint8Array(42);
    arp[12] = 8;
    arp[13] = 6;
    expect(f.accepts(arp, 0, arp.length)).toBe(true);
  });
});
