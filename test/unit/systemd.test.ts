// deploy/systemd/: both units pass `systemd-analyze verify` without a single warning, and keep their hardening.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const DEPLOY = resolve(dirname(fileURLToPath(import.meta.url)), '../../deploy/systemd');
const UNITS = ['tsn2n-edge@.service', 'tsn2n-supernode.service'] as const;
/** Where `npm install -g tsn2n` puts the command (npm's default prefix /usr/local). */
const INSTALLED_BIN = '/usr/local/bin/tsn2n';
/** `systemd-analyze security` rates 0 (locked down) … 10 (unprotected); "OK" ends below 4. Both units score ~2. */
const MAX_EXPOSURE = 3;
const IS_CI = process.env.CI === 'true';

function analyzer(): string | undefined {
  const r = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0] : undefined;
}
const version = analyzer();
if (version === undefined && !IS_CI) {
  console.warn('[systemd] skipping: systemd-analyze is not installed (apt-get install systemd)');
}

const work = mkdtempSync(join(tmpdir(), 'tsn2n-units-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * `verify` checks that ExecStart's command exists and is executable, and /usr/local/bin/tsn2n is not installed
 * on a build machine. So the test verifies a copy whose only change is that path, pointing at an executable
 * that does exist (the node binary running this test): every other line is verified as shipped.
 */
function stage(unit: string): string {
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  const stub = join(bin, 'tsn2n');
  try {
    symlinkSync(process.execPath, stub);
  } catch {
    // Staged by an earlier unit.
  }
  const text = readFileSync(join(DEPLOY, unit), 'utf8');
  expect(text).toContain(`ExecStart=${INSTALLED_BIN} `);
  const path = join(work, unit);
  writeFileSync(path, text.replaceAll(INSTALLED_BIN, stub));
  return path;
}

function directives(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of readFileSync(join(DEPLOY, unit), 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

describe.skipIf(version === undefined && !IS_CI)('deploy/systemd units', () => {
  for (const unit of UNITS) {
    it(`${unit}: systemd-analyze verify prints nothing and succeeds`, () => {
      if (version === undefined) throw new Error('systemd-analyze is missing: .ci/run must install systemd');
      const path = stage(unit);
      // A template is verified as its instance "i" (systemd-analyze instantiates it).
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', path], { encoding: 'utf8', cwd: work });
      expect(`${r.stdout}${r.stderr}`).toBe('');
      expect(r.status).toBe(0);
    });

    it(`${unit}: systemd-analyze security rates it below ${MAX_EXPOSURE}`, () => {
      if (version === undefined) throw new Error('systemd-analyze is missing: .ci/run must install systemd');
      const path = stage(unit);
      const out = execFileSync('systemd-analyze', ['security', '--offline=true', '--no-pager', path], {
        encoding: 'utf8',
        cwd: work,
      });
      const m = /Overall exposure level for \S+: (\d+\.\d+)/.exec(out);
      expect(m, out).not.toBeNull();
      expect(Number(m![1])).toBeLessThan(MAX_EXPOSURE);
    });
  }

  it('verify catches what it is there for: an unknown key or a missing command fails the test', () => {
    if (version === undefined) throw new Error('systemd-analyze is missing: .ci/run must install systemd');
    const path = stage('tsn2n-supernode.service');
    const typo = join(work, 'typo.service');
    writeFileSync(typo, readFileSync(path, 'utf8').replace('ProtectSystem=', 'ProtectSytem='));
    const r1 = spawnSync('systemd-analyze', ['verify', '--man=no', typo], { encoding: 'utf8' });
    expect(r1.stderr).toMatch(/Unknown key 'ProtectSytem'/);
    const missing = join(work, 'missing.service');
    writeFileSync(missing, readFileSync(join(DEPLOY, 'tsn2n-supernode.service'), 'utf8'));
    const r2 = spawnSync('systemd-analyze', ['verify', '--man=no', missing], { encoding: 'utf8' });
    expect(r2.status).not.toBe(0);
    expect(r2.stderr).toMatch(/is not executable/);
  });
});

describe('deploy/systemd unit contents', () => {
  it('edge: Type=notify, one capability, /dev/net/tun only, ordered before kubelet and the runtimes', () => {
    const d = directives('tsn2n-edge@.service');
    expect(d.get('Type')).toEqual(['notify']);
    expect(d.get('ExecStart')).toEqual([
      `${INSTALLED_BIN} edge %d/edge.conf --state-file /var/lib/tsn2n/%i.state`,
    ]);
    expect(d.get('StateDirectory')).toEqual(['tsn2n']);
    expect(d.get('LoadCredential')).toEqual(['edge.conf:/etc/tsn2n/%i.conf']);
    expect(d.get('CapabilityBoundingSet')).toEqual(['CAP_NET_ADMIN']);
    expect(d.get('AmbientCapabilities')).toEqual(['CAP_NET_ADMIN']);
    expect(d.get('DeviceAllow')).toEqual(['/dev/net/tun rw']);
    expect(d.get('Before')?.[0].split(' ')).toEqual(
      expect.arrayContaining(['kubelet.service', 'containerd.service', 'crio.service']),
    );
    expect(d.get('Wants')).toEqual(['network-online.target']);
    expect(d.get('After')).toEqual(['network-online.target']);
    expect(d.get('Restart')).toEqual(['on-failure']);
    expect(d.get('WantedBy')).toEqual(['multi-user.target']);
    for (const k of ['DynamicUser', 'NoNewPrivileges', 'ProtectHome', 'PrivateTmp'])
      expect(d.get(k), k).toEqual(['yes']);
    expect(d.get('ProtectSystem')).toEqual(['strict']);
    expect(d.get('RestrictAddressFamilies')).toEqual(['AF_INET AF_INET6 AF_UNIX AF_NETLINK']);
    // V8 needs W+X memory: the one hardening switch that would kill node.
    expect(d.has('MemoryDenyWriteExecute')).toBe(false);
  });

  it('supernode: Type=notify, a dynamic user without any capability, starts with no options', () => {
    const d = directives('tsn2n-supernode.service');
    expect(d.get('Type')).toEqual(['notify']);
    expect(d.get('ExecStart')).toEqual([`${INSTALLED_BIN} supernode $TSN2N_SUPERNODE_OPTS`]);
    expect(d.get('EnvironmentFile')).toEqual(['-/etc/tsn2n/supernode.env']);
    expect(d.get('DynamicUser')).toEqual(['yes']);
    expect(d.get('CapabilityBoundingSet')).toEqual(['']);
    expect(d.get('AmbientCapabilities')).toEqual(['']);
    expect(d.get('PrivateDevices')).toEqual(['yes']);
    expect(d.get('Restart')).toEqual(['on-failure']);
    expect(d.has('MemoryDenyWriteExecute')).toBe(false);
  });
});
