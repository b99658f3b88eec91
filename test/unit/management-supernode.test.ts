// The supernode's management port: exact 3.1.1 JSON rows, errors, legacy text, reload, stop and peer events.
import { describe, expect, it } from 'vitest';
import { SupernodeManagement } from '../../src/management/supernode.js';
import type { SockAddr } from '../../src/util/ip.js';
import { MsgType } from '../../src/wire/types.js';
import { advance, makeEnv, startSn, WireEdge } from './supernode-harness.js';

const MGMT: SockAddr = { family: 4, address: '127.0.0.1', port: 5645 };
const SN_MAC = 0x02_46_2f_21_00_8c;

async function setup(options = {}, password?: string) {
  const env = makeEnv();
  env.files['/c.list'] = 'mynetwork\nhome 192.168.168.0/24\nntop[0-1][0-9]\n';
  const sn = await startSn(env, { mac: SN_MAC, ...options });
  let stopped = 0;
  const mgmt = new SupernodeManagement(sn, env.net.open('127.0.0.1', 5645), {
    password,
    onStop: () => {
      stopped++;
    },
  });
  const client = env.net.open('127.0.0.1', 33333);
  const got: string[] = [];
  client.onDatagram((d) => got.push(d.toString('utf8')));
  const ask = (text: string): string[] => {
    got.length = 0;
    const b = Buffer.from(text);
    client.send(b, 0, b.length, MGMT);
    env.net.flush();
    return [...got];
  };
  return { env, sn, mgmt, ask, stopped: () => stopped };
}

async function withEdges(options = {}) {
  const s = await setup(options);
  const a = new WireEdge(s.env, '10.9.1.2', {
    community: 'home',
    mac: 0x0200000000aa,
    desc: 'alpha',
    port: 40001,
  });
  a.registerSuper();
  s.env.net.flush();
  return { ...s, a };
}

describe('supernode management JSON', () => {
  it('edges: rows with 3.1.1 keys, federation members listed as "-/-"', async () => {
    const { ask, sn } = await withEdges({ communityFile: '/c.list' });
    const out = ask('r 7 edges');
    expect(out[0]).toBe('{"_tag":"7","_type":"begin","cmd":"edges"}\n');
    expect(out.at(-1)).toBe('{"_tag":"7","_type":"end"}\n');
    expect(out[1]).toBe(
      `{"_tag":"7","_type":"row","community":"home","ip4addr":"10.0.0.171/24","purgeable":0,"macaddr":"02:00:00:00:00:AA","sockaddr":"10.9.1.2:40001","proto":"UDP","desc":"alpha","last_seen":${sn.nowSec()}}\n`,
    );
  });

  it('communities: federation first as "-/-", subnets, purgeable flags', async () => {
    const { ask } = await withEdges({ communityFile: '/c.list' });
    const rows = ask('r 1 communities').slice(1, -1);
    expect(rows).toEqual([
      '{"_tag":"1","_type":"row","community":"-/-","purgeable":0,"is_federation":1,"ip4addr":""}\n',
      '{"_tag":"1","_type":"row","community":"mynetwork","purgeable":0,"is_federation":0,"ip4addr":"10.164.148.0/24"}\n',
      '{"_tag":"1","_type":"row","community":"home","purgeable":0,"is_federation":0,"ip4addr":"192.168.168.0/24"}\n',
    ]);
  });

  it('packetstats: the four 3.1.1 rows, then one drop row per reason', async () => {
    const { ask, a, env } = await withEdges();
    a.packet(0x0200000000bb, new Uint8Array(10));
    env.net.flush();
    const rows = ask('r 2 packetstats').slice(1, -1);
    expect(rows.slice(0, 4)).toEqual([
      '{"_tag":"2","_type":"row","type":"forward","tx_pkt":0}\n',
      '{"_tag":"2","_type":"row","type":"broadcast","tx_pkt":0}\n',
      '{"_tag":"2","_type":"row","type":"reg_super","rx_pkt":1,"nak":0}\n',
      '{"_tag":"2","_type":"row","type":"errors","tx_pkt":0}\n',
    ]);
    expect(rows).toContain('{"_tag":"2","_type":"row","type":"drop","reason":"too_short","rx_pkt":0}\n');
  });

  it('timestamps, help, verbose, supernodes', async () => {
    const { ask, sn } = await withEdges();
    expect(ask('r 3 timestamps')[1]).toBe(
      `{"_tag":"3","_type":"row","start_time":${sn.startTime},"last_fwd":0,"last_reg_super":${sn.nowSec()}}\n`,
    );
    const help = ask('r 4 help')
      .slice(1, -1)
      .map((r) => JSON.parse(r).cmd);
    expect(help).toEqual([
      'supernodes',
      'stop',
      'verbose',
      'reload_communities',
      'communities',
      'edges',
      'timestamps',
      'packetstats',
      'help',
      'help.events',
      'post.test',
    ]);
    expect(ask('w 5:1:n2n verbose 4')[1]).toBe('{"_tag":"5","_type":"row","traceLevel":4}\n');
    expect(sn.logger.level).toBe(4);
    expect(ask('r 6 supernodes')).toEqual([
      '{"_tag":"6","_type":"begin","cmd":"supernodes"}\n',
      '{"_tag":"6","_type":"end"}\n',
    ]);
  });

  it('write commands need the password; reload_communities is write-only and needs a file', async () => {
    const { ask } = await setup();
    expect(ask('w 1 stop')).toEqual(['{"_tag":"1","_type":"error","error":"badauth"}\n']);
    expect(ask('r 2 reload_communities')).toEqual([
      '{"_tag":"2","_type":"begin","cmd":"reload_communities"}\n',
      '{"_tag":"2","_type":"error","error":"writeonly"}\n',
      '{"_tag":"2","_type":"end"}\n',
    ]);
    expect(ask('w 3:1:n2n reload_communities')[1]).toBe('{"_tag":"3","_type":"error","error":"nofile"}\n');
    expect(ask('w 4:1:n2n edges')).toEqual(['{"_tag":"4","_type":"error","error":"readonly"}\n']);
    expect(ask('r 5 bogus')).toEqual(['{"_tag":"5","_type":"error","error":"unknowncmd"}\n']);
  });

  it('a custom password replaces n2n', async () => {
    const { ask } = await setup({}, 's3cret');
    expect(ask('w 1:1:n2n verbose 1')).toEqual(['{"_tag":"1","_type":"error","error":"badauth"}\n']);
    expect(ask('w 1:1:s3cret verbose 1')[1]).toBe('{"_tag":"1","_type":"row","traceLevel":1}\n');
  });

  it('reload_communities re-reads the file and answers ok 0', async () => {
    const { ask, env, sn } = await setup({ communityFile: '/c.list' });
    env.files['/c.list'] = 'other\n';
    expect(ask('w 1:1:n2n reload_communities')[1]).toBe('{"_tag":"1","_type":"row","ok":0}\n');
    expect(sn.communityList().map((c) => c.name)).toEqual(['*Federation', 'other']);
    expect(ask('reload_communities')).toEqual(['OK.\n']);
    env.files['/c.list'] = '';
    expect(ask('reload_communities')).toEqual([
      'Error while re-loading community file (not found or no valid content)\n',
    ]);
  });

  it('stop: r reports keep_running 1, w stops the supernode after the reply', async () => {
    const { ask, sn, stopped } = await setup();
    expect(ask('r 1 stop')[1]).toBe('{"_tag":"1","_type":"row","keep_running":1}\n');
    expect(ask('w 2:1:n2n stop')).toEqual([
      '{"_tag":"2","_type":"begin","cmd":"stop"}\n',
      '{"_tag":"2","_type":"row","keep_running":0}\n',
      '{"_tag":"2","_type":"end"}\n',
    ]);
    await new Promise((r) => setTimeout(r, 0));
    expect(sn.running).toBe(false);
    expect(stopped()).toBe(1);
  });

  it('peer events: subscribe and see edges added and purged', async () => {
    const { ask, env } = await setup();
    expect(ask('s 9:1:n2n peer')).toEqual(['{"_tag":"9","_type":"subscribe","topic":"peer"}\n']);
    const a = new WireEdge(env, '10.9.1.2', { community: 'home', mac: 0x0200000000aa, port: 40001 });
    a.registerSuper();
    const got: string[] = [];
    const c = env.net.socketAt('127.0.0.1', 33333)!;
    c.onDatagram((d) => got.push(d.toString()));
    env.net.flush();
    expect(got).toEqual([
      '{"_tag":"9","_type":"event","action":4,"macaddr":"02:00:00:00:00:AA","sockaddr":"10.9.1.2:40001"}\n',
    ]);
    advance(env, 95);
    expect(got[1]).toBe(
      '{"_tag":"9","_type":"event","action":1,"macaddr":"02:00:00:00:00:AA","sockaddr":"10.9.1.2:40001"}\n',
    );
    expect(a.ofType(MsgType.REGISTER_SUPER_ACK)).toHaveLength(1);
  });
});

describe('supernode management legacy text', () => {
  it('help text', async () => {
    const { ask } = await setup();
    expect(ask('help')).toEqual([
      "Help for supernode management console:\n\thelp                 | This help message\n\treload_communities   | Reloads communities and user's public keys\n\t<enter>              | Display status and statistics\n",
    ]);
    expect(ask('reload_communities')).toEqual(['No community file provided (-c command line option)\n']);
  });

  it('status dump: table header, one datagram per community and edge, summary', async () => {
    const { ask, env } = await withEdges({ communityFile: '/c.list' });
    advance(env, 3);
    const out = ask('\n');
    expect(out[0]).toBe(
      ' ### | TAP                 | MAC               | EDGE                      | HINT            | LAST SEEN\n' +
        `${'='.repeat(104)}\nFEDERATION '-/-'\n`,
    );
    expect(out[1]).toBe(`${'-'.repeat(104)}\nFIXED NAME COMMUNITY 'mynetwork'\n`);
    expect(out[2]).toBe(`${'-'.repeat(104)}\nFIXED NAME COMMUNITY 'home'\n`);
    expect(out[3]).toBe(
      '   1 | 10.0.0.171/24       | 02:00:00:00:00:AA | 10.9.1.2:40001            | alpha           |         3\n',
    );
    const summary = out[4];
    expect(
      summary.startsWith(`${'='.repeat(104)}\nuptime 3 | edges 1 | reg_sup 1 | reg_nak 0 | errors 0 \n`),
    ).toBe(true);
    expect(summary).toContain('fwd 0 | broadcast 0 | cur_cmnts 3\n');
    expect(summary).toContain('last reg  3 sec ago\n\n');
    expect(summary).toMatch(/rx 1 \| dropped 0\n$/);
  });
});
