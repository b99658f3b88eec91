// Config-file parsing (spec §11.3) for both programs: trimming, comments, `=`, value rules and getopt arity.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configTextToArgs, loadConfigFile, splitConfigText, trimConfigText } from '../../src/cli/config.js';
import { ConfigError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'tsn2n-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('trimConfigText', () => {
  it('removes whitespace and quotes at both ends only', () => {
    expect(trimConfigText('  "-c mynet" \r')).toBe('-c mynet');
    expect(trimConfigText("'a' b'")).toBe("a' b");
    expect(trimConfigText('   ')).toBe('');
  });
});

describe('splitConfigText', () => {
  it('skips comments and short lines, splits at space, tab or =', () => {
    const lines = splitConfigText(
      '# comment\n\nx\n-c mynetwork\n-c=other\n--community=third\n-p\t1234\n',
      'edge',
    );
    expect(lines.map((l) => [l.option, l.value])).toEqual([
      ['-c', 'mynetwork'],
      ['-c', 'other'],
      ['--community', 'third'],
      ['-p', '1234'],
    ]);
    expect(lines[0].line).toBe(4);
  });

  it('edge keeps the whole rest of the line, supernode only the next word', () => {
    expect(splitConfigText('-I my host name\n', 'edge')[0].value).toBe('my host name');
    expect(splitConfigText('-c  two words\n', 'supernode')[0].value).toBe('two');
    expect(splitConfigText('-c = spaced\n', 'supernode')[0].value).toBe('=');
    expect(splitConfigText('-c = spaced\n', 'edge')[0].value).toBe('= spaced');
  });

  it('handles CRLF files and quoted lines', () => {
    expect(splitConfigText('"-t 5646"\r\n', 'supernode')).toEqual([{ line: 1, option: '-t', value: '5646' }]);
  });
});

describe('configTextToArgs', () => {
  it('supernode: required values kept, flag values dropped', () => {
    const text = '-p 7777\n-f\n-v yes\n-c=community.list\n--management-password secret\n-M\n-l a:1\n-l b:2\n';
    expect(configTextToArgs(text, 'supernode')).toEqual([
      '-p',
      '7777',
      '-f',
      '-v',
      '-c',
      'community.list',
      '--management-password',
      'secret',
      '-M',
      '-l',
      'a:1',
      '-l',
      'b:2',
    ]);
  });

  it('edge: optional arguments must be attached, a separate word is ignored', () => {
    expect(configTextToArgs('-A3\n-A 4\n-z1\n-S 2\n', 'edge')).toEqual(['-A3', '-A', '-z1', '-S']);
  });

  it('attached short values stay one token; non-options are ignored; unknown options pass through', () => {
    expect(configTextToArgs('-cmynet\nfoo=bar\n-Q 1\n', 'edge')).toEqual(['-cmynet', '-Q', '1']);
  });

  it('a required option without value is kept so the parser reports it', () => {
    expect(configTextToArgs('-p\n', 'supernode')).toEqual(['-p']);
  });
});

describe('loadConfigFile', () => {
  it('reads a file', () => {
    const p = join(dir, 'supernode.conf');
    writeFileSync(p, '# supernode\n-p=7655\n-t 5650\n');
    expect(loadConfigFile(p, 'supernode')).toEqual(['-p', '7655', '-t', '5650']);
  });

  it('a missing file is a ConfigError naming it', () => {
    const p = join(dir, 'nope.conf');
    expect(() => loadConfigFile(p, 'edge')).toThrow(ConfigError);
    expect(() => loadConfigFile(p, 'edge')).toThrow(/nope\.conf not found/);
  });
});
