// The edge's state file (src/cli/state.ts): the registration token is created once, kept, and never shared loosely.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseEdgeArgs } from '../../src/cli/edge.js';
import { defaultStatePath, loadOrCreateToken } from '../../src/cli/state.js';
import { MemoryLogger } from '../../src/util/log.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'tsn2n-state-'));
  dirs.push(d);
  return d;
}

describe('edge state file', () => {
  it('creates a token once (mode 0600) and returns the same one after a restart', () => {
    const path = join(tmp(), 'sub', 'edge0.state');
    const log = new MemoryLogger(4);
    const t1 = loadOrCreateToken(path, log);
    expect(t1).toHaveLength(16);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const t2 = loadOrCreateToken(path, log);
    expect(Buffer.from(t2).equals(Buffer.from(t1))).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8')).authToken).toBe(Buffer.from(t1).toString('hex'));
  });

  it('replaces a file it does not understand, and runs on when it cannot write', () => {
    const d = tmp();
    const path = join(d, 'x.state');
    writeFileSync(path, '{"version":1,"authToken":"zz"}');
    const log = new MemoryLogger(4);
    const t = loadOrCreateToken(path, log);
    expect(JSON.parse(readFileSync(path, 'utf8')).authToken).toBe(Buffer.from(t).toString('hex'));
    writeFileSync(join(d, 'file'), '');
    expect(loadOrCreateToken(join(d, 'file', 'no.state'), log)).toHaveLength(16);
  });

  it('lives beside the config file, else under /var/lib/tsn2n; --state-file is accepted', () => {
    expect(defaultStatePath('/etc/n2n/edge.conf', 'edge0')).toBe('/etc/n2n/edge.conf.state');
    expect(defaultStatePath(undefined, 'n2n0')).toBe('/var/lib/tsn2n/n2n0.state');
    const p = parseEdgeArgs(['-c', 'x', '-l', 'sn:7654', '--state-file', '/tmp/e.state']);
    expect(p.raw.stateFile).toBe('/tmp/e.state');
  });
});
