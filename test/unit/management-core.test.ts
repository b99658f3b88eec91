// Management core (spec §13): strtok parsing, password check, begin/row/end framing, errors, subscriptions.
import { describe, expect, it } from 'vitest';
import { MemoryNetwork, type MemorySocket } from '../../src/io/memory.js';
import {
  cStrtoul,
  DEFAULT_MGMT_PASSWORD,
  helpCommand,
  helpEventsCommand,
  ManagementServer,
  type MgmtCommand,
  mgmtAuthorized,
  mgmtPasswordHash,
  parseMgmtRequest,
  postTestCommand,
  verboseCommand,
} from '../../src/management/core.js';
import type { SockAddr } from '../../src/util/ip.js';

const from: SockAddr = { family: 4, address: '127.0.0.1', port: 40000 };

describe('parseMgmtRequest', () => {
  it('splits type, tag:flags:password, cmd and the rest', () => {
    const r = parseMgmtRequest('w 12:1:secret verbose 3\n', from, ['r', 'w']);
    expect(r).toEqual({
      ok: true,
      request: { type: 'w', tag: '12', flags: 1, auth: 'secret', cmd: 'verbose', argv: '3', from },
    });
  });

  it('no flags means no password; flags without bit 0 ignore a password field', () => {
    const a = parseMgmtRequest('r 7 edges', from, ['r', 'w']);
    expect(a.ok && a.request.auth).toBeUndefined();
    const b = parseMgmtRequest('r 7:2:pw edges', from, ['r', 'w']);
    expect(b.ok && b.request.auth).toBeUndefined();
    expect(b.ok && b.request.flags).toBe(2);
  });

  it('reports the C error words with tag -1', () => {
    expect(parseMgmtRequest('r', from, ['r'])).toEqual({ ok: false, tag: '-1', error: 'nooptions' });
    expect(parseMgmtRequest('r 1', from, ['r'])).toEqual({ ok: false, tag: '-1', error: 'nocmd' });
    expect(parseMgmtRequest('s 1 peer', from, ['r', 'w'])).toEqual({
      ok: false,
      tag: '-1',
      error: 'badtype',
    });
    expect(parseMgmtRequest('   ', from, ['r'])).toEqual({ ok: false, tag: '-1', error: 'notype' });
  });

  it('uses only the first 79 bytes and truncates tags when asked', () => {
    const long = `r 1234567890123 ${'x'.repeat(100)}`;
    const r = parseMgmtRequest(long, from, ['r'], 9);
    expect(r.ok && r.request.tag).toBe('123456789');
    expect(r.ok && r.request.cmd.length).toBe(79 - 16);
  });

  it('password stops at the next colon (strtok)', () => {
    const r = parseMgmtRequest('w 1:1:a:b stop', from, ['w']);
    expect(r.ok && r.request.auth).toBe('a');
  });
});

describe('auth and numbers', () => {
  it('H64("n2n") is the documented vector', () => {
    expect(mgmtPasswordHash('n2n').toString(16).padStart(16, '0')).toBe('0c3cc37678291925');
  });

  it('reads need no password, writes need the right one', () => {
    const h = mgmtPasswordHash(DEFAULT_MGMT_PASSWORD);
    const req = (t: 'r' | 'w', auth?: string) => ({ type: t, tag: '1', flags: 1, auth, cmd: 'x', from });
    expect(mgmtAuthorized(req('r'), h)).toBe(true);
    expect(mgmtAuthorized(req('w'), h)).toBe(false);
    expect(mgmtAuthorized(req('w', 'n2n'), h)).toBe(true);
    expect(mgmtAuthorized(req('r', 'bad'), h)).toBe(false);
  });

  it('strtoul prefixes', () => {
    expect(cStrtoul('1f', 16)).toBe(31);
    expect(cStrtoul('zz', 16)).toBe(0);
    expect(cStrtoul('0x10', 0)).toBe(16);
    expect(cStrtoul('010', 0)).toBe(8);
    expect(cStrtoul('42abc', 0)).toBe(42);
  });
});

interface Ctx {
  level: number;
}

function setup(opts: { topics?: boolean; endIncludesCmd?: boolean } = {}) {
  const net = new MemoryNetwork({ delivery: 'manual' });
  const srv = net.open('127.0.0.1', 5645);
  const client = net.open('127.0.0.1', 40000);
  const got: string[] = [];
  client.onDatagram((d) => got.push(d.toString('utf8')));
  const ctx: Ctx = { level: 2 };
  const commands: MgmtCommand<Ctx>[] = [];
  let server!: ManagementServer<Ctx>;
  commands.push(
    verboseCommand<Ctx>({
      get: (c) => c.level,
      set: (c, l) => {
        c.level = l;
      },
    }),
    {
      cmd: 'boom',
      help: 'throws',
      run: () => {
        throw new Error('kaput');
      },
    },
    helpCommand(() => commands),
  );
  if (opts.topics)
    commands.push(
      helpEventsCommand(() => server),
      postTestCommand(() => server),
    );
  server = new ManagementServer(srv, {
    context: ctx,
    passwordHash: mgmtPasswordHash('n2n'),
    commands,
    topics: opts.topics
      ? [
          { name: 'debug', help: 'all' },
          { name: 'test', help: 'tests' },
        ]
      : undefined,
    jsonDetect: 'rw',
    endIncludesCmd: opts.endIncludesCmd ?? false,
    legacy: (_c, text, _f, send) => send(`legacy:${text.trim()}\n`),
  });
  const ask = (c: MemorySocket, text: string) => {
    const b = Buffer.from(text);
    c.send(b, 0, b.length, { family: 4, address: '127.0.0.1', port: 5645 });
    net.flush();
  };
  return { net, client, got, ctx, server, ask: (t: string) => ask(client, t), askFrom: ask };
}

describe('ManagementServer', () => {
  it('answers begin, rows, end without cmd (supernode style)', () => {
    const { got, ask, ctx } = setup();
    ask('w 5:1:n2n verbose 4');
    expect(got).toEqual([
      '{"_tag":"5","_type":"begin","cmd":"verbose"}\n',
      '{"_tag":"5","_type":"row","traceLevel":4}\n',
      '{"_tag":"5","_type":"end"}\n',
    ]);
    expect(ctx.level).toBe(4);
  });

  it('end carries cmd in edge style', () => {
    const { got, ask } = setup({ endIncludesCmd: true });
    ask('r 1 verbose');
    expect(got.at(-1)).toBe('{"_tag":"1","_type":"end","cmd":"verbose"}\n');
  });

  it('errors: badauth, unknowncmd, readonly', () => {
    const { got, ask } = setup();
    ask('w 1 verbose 1');
    ask('w 2:1:wrong verbose 1');
    ask('r 3 nosuch');
    ask('w 4:1:n2n boom');
    expect(got.slice(0, 3)).toEqual([
      '{"_tag":"1","_type":"error","error":"badauth"}\n',
      '{"_tag":"2","_type":"error","error":"badauth"}\n',
      '{"_tag":"3","_type":"error","error":"unknowncmd"}\n',
    ]);
    expect(got[3]).toBe('{"_tag":"4","_type":"error","error":"readonly"}\n');
  });

  it('a throwing command still ends the reply and the server survives', () => {
    const { got, ask } = setup();
    ask('r 9 boom');
    expect(got[0]).toContain('"begin"');
    expect(got.some((g) => g.includes('"end"'))).toBe(true);
    got.length = 0;
    ask('r 10 verbose');
    expect(got).toHaveLength(3);
  });

  it('help lists commands in order', () => {
    const { got, ask } = setup();
    ask('r 1 help');
    expect(got.slice(1, -1).map((g) => JSON.parse(g).cmd)).toEqual(['verbose', 'boom', 'help']);
  });

  it('non-JSON goes to the legacy handler; s is refused without topics', () => {
    const { got, ask } = setup();
    ask('help');
    ask('s 1:1:n2n test');
    expect(got).toEqual(['legacy:help\n', 'legacy:s 1:1:n2n test\n']);
  });

  it('subscriptions: subscribe, replacing/unsubscribed, events to topic and debug', () => {
    const { got, ask, net, askFrom } = setup({ topics: true });
    const other = net.open('127.0.0.1', 40001);
    const otherGot: string[] = [];
    other.onDatagram((d) => otherGot.push(d.toString()));
    ask('s 7 test');
    expect(got).toEqual(['{"_tag":"7","_type":"error","error":"badauth"}\n']);
    ask('s 7:1:n2n nosuch');
    expect(got[1]).toBe('{"_tag":"7","_type":"error","error":"unknowntopic"}\n');
    got.length = 0;
    ask('s 8:1:n2n test');
    expect(got).toEqual(['{"_tag":"8","_type":"subscribe","topic":"test"}\n']);
    got.length = 0;
    askFrom(other, 's 9:1:n2n test');
    expect(got).toEqual(['{"_tag":"8","_type":"unsubscribed","topic":"test"}\n']);
    expect(otherGot).toEqual([
      '{"_tag":"9","_type":"replacing","topic":"test"}\n',
      '{"_tag":"9","_type":"subscribe","topic":"test"}\n',
    ]);
    got.length = 0;
    otherGot.length = 0;
    ask('s 3:1:n2n debug');
    got.length = 0;
    ask('r 4 post.test hello');
    expect(got).toContain('{"_tag":"9","_type":"event","test":"hello"}\n');
    expect(otherGot).toEqual(['{"_tag":"9","_type":"event","test":"hello"}\n']);
    got.length = 0;
    ask('r 5 help.events');
    const rows = got.filter((g) => g.includes('"row"')).map((g) => JSON.parse(g));
    expect(rows).toEqual([
      { _tag: '5', _type: 'row', topic: 'debug', tag: '3', sockaddr: '127.0.0.1:40000', help: 'all' },
      { _tag: '5', _type: 'row', topic: 'test', tag: '9', sockaddr: '127.0.0.1:40001', help: 'tests' },
    ]);
  });

  it('the request ends at the first NUL', () => {
    const { got, ask } = setup();
    ask('r 1 verbose\0garbage');
    expect(got[1]).toBe('{"_tag":"1","_type":"row","traceLevel":2}\n');
  });
});
