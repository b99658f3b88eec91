// `tsn2n supernode` as real processes on 127.0.0.1: wire-level edges over UDP, JSON management, federation, CLI errors.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedString } from '../../src/util/bytes.js';
import { communityBytes } from '../../src/wire/common.js';
import { type DecodedMessage, decodeMessage, encodeMessage } from '../../src/wire/messages.js';
import { type Message, MsgType } from '../../src/wire/types.js';
import { N2nCtlClient, upstreamN2nCtl } from '../unit/helpers/n2n-ctl-client.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = join(ROOT, 'dist/cli/main.js');
const execFileP = promisify(execFile);
const LOCAL = '127.0.0.1';

let tmp = '';
const children: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(MAIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  tmp = mkdtempSync(join(tmpdir(), 'tsn2n-sn-e2e-'));
});

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Distinct ports per run: a random base in the ephemeral-free range, stepped per call. */
let portSeq = 20000 + Math.floor(Math.random() * 20000);
const nextPort = (): number => portSeq++;

interface Proc {
  child: ChildProcess;
  stderr: string[];
  exited: Promise<number | null>;
}

async function startSupernode(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Proc> {
  const child = spawn(process.execPath, [MAIN, 'supernode', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const stderr: string[] = [];
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await new Promise<void>((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`supernode did not start: ${stderr.join('')}`)), 15000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr.push(d.toString());
      if (stderr.join('').includes('(management)')) {
        clearTimeout(timer);
        resolveStart();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`supernode exited with ${code}: ${stderr.join('')}`));
    });
  });
  return { child, stderr, exited };
}

/** A UDP client that collects datagrams. */
class UdpClient {
  readonly sock: Socket;
  readonly got: { data: Buffer; port: number }[] = [];
  private waiters: (() => void)[] = [];

  private constructor(sock: Socket) {
    this.sock = sock;
    sock.on('message', (data, rinfo) => {
      this.got.push({ data, port: rinfo.port });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async open(): Promise<UdpClient> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, LOCAL, () => r()));
    return new UdpClient(s);
  }

  get port(): number {
    return this.sock.address().port;
  }

  send(data: Uint8Array, port: number): void {
    this.sock.send(data, port, LOCAL);
  }

  /** Waits until `pred` holds for the received list (polling on every datagram), or fails after `ms`. */
  async until<T>(pred: () => T | undefined, ms = 5000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = pred();
      if (v !== undefined && v !== false) return v;
      const left = end - Date.now();
      if (left <= 0) throw new Error('timed out waiting for datagrams');
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close(): void {
    this.sock.close();
  }
}

/** A wire-level edge over real UDP (plain headers). */
class UdpEdge {
  constructor(
    readonly client: UdpClient,
    readonly community: string,
    readonly mac: number,
    public snPort: number,
  ) {}

  send(msg: Message, payload?: Uint8Array): void {
    const buf = Buffer.alloc(2048);
    let len = encodeMessage(msg, buf, 0);
    if (payload) {
      buf.set(payload, len);
      len += payload.length;
    }
    this.client.send(buf.subarray(0, len), this.snPort);
  }

  common(type: number): Message['common'] {
    return {
      ttl: 2,
      type: type as Message['common']['type'],
      flags: 0,
      community: communityBytes(this.community),
    };
  }

  registerSuper(cookie: number): void {
    this.send({
      type: MsgType.REGISTER_SUPER,
      common: this.common(MsgType.REGISTER_SUPER),
      body: {
        cookie,
        edgeMac: this.mac,
        devAddr: { addr: 0x0a000000 + (this.mac & 0xff), bitlen: 24 },
        desc: fixedString(`e${this.mac & 0xff}`, 16),
        auth: { scheme: 1, token: new Uint8Array(16).fill(this.mac & 0xff) },
        keyTime: 0,
      },
    });
  }

  packet(dst: number, payload: Uint8Array): void {
    this.send(
      {
        type: MsgType.PACKET,
        common: this.common(MsgType.PACKET),
        body: { srcMac: this.mac, dstMac: dst, compression: 1, transform: 1 },
        payloadOffset: 0,
        payloadLength: payload.length,
      },
      payload,
    );
  }

  decoded(): DecodedMessage[] {
    const out: DecodedMessage[] = [];
    for (const g of this.client.got) {
      try {
        out.push(decodeMessage(g.data));
      } catch {
        // not for us
      }
    }
    return out;
  }

  async waitFor(type: number, pred: (m: DecodedMessage) => boolean = () => true): Promise<DecodedMessage> {
    return this.client.until(() => this.decoded().find((m) => m.type === type && pred(m)));
  }
}

/** A JSON management request: returns the rows once `end` arrived. */
async function mgmt(port: number, request: string): Promise<Record<string, unknown>[]> {
  const c = await UdpClient.open();
  try {
    c.send(Buffer.from(request), port);
    const msgs = await c.until(() => {
      const m = c.got.map((g) => JSON.parse(g.data.toString()) as Record<string, unknown>);
      return m.some((x) => x._type === 'end' || x._type === 'error') ? m : undefined;
    });
    const err = msgs.find((m) => m._type === 'error');
    if (err) throw new Error(`management error ${String(err.error)}`);
    return msgs.filter((m) => m._type === 'row');
  } finally {
    c.close();
  }
}

const payload = Uint8Array.from({ length: 1400 }, (_, i) => (i * 7) & 0xff);
const MAC_A = 0x0200000000aa;
const MAC_B = 0x0200000000bb;

describe('tsn2n supernode process', () => {
  it('registers two UDP edges, relays a PACKET, answers the JSON API and n2n-ctl, stops on SIGTERM', async () => {
    const port = nextPort();
    const mport = nextPort();
    const sn = await startSupernode(['-p', String(port), '-t', String(mport), '-F', 'e2eFed', '-f']);
    expect(sn.stderr.join('')).toContain(`[::]:${port} (main)`);
    const a = new UdpEdge(await UdpClient.open(), 'e2e', MAC_A, port);
    const b = new UdpEdge(await UdpClient.open(), 'e2e', MAC_B, port);
    a.registerSuper(0x1111);
    b.registerSuper(0x2222);
    const ackA = await a.waitFor(MsgType.REGISTER_SUPER_ACK);
    await b.waitFor(MsgType.REGISTER_SUPER_ACK);
    expect(ackA.type === MsgType.REGISTER_SUPER_ACK && ackA.body.cookie).toBe(0x1111);
    expect(ackA.type === MsgType.REGISTER_SUPER_ACK && ackA.body.sock.port).toBe(a.client.port);

    a.packet(MAC_B, payload);
    const p = await b.waitFor(MsgType.PACKET);
    expect(p.type === MsgType.PACKET && p.body.sock).toEqual({
      family: 4,
      port: a.client.port,
      address: LOCAL,
    });
    const raw = b.client.got.find((g) => g.data.length === 46 + 1400)!;
    expect(raw.data.subarray(46)).toEqual(Buffer.from(payload));
    expect(raw.port).toBe(port);

    const edges = await mgmt(mport, 'r 1 edges');
    expect(edges.map((e) => e.macaddr).sort()).toEqual(['02:00:00:00:00:AA', '02:00:00:00:00:BB']);
    expect(edges.every((e) => e.community === 'e2e' && e.proto === 'UDP')).toBe(true);
    const stats = await mgmt(mport, 'r 2 packetstats');
    expect(stats[0]).toEqual({ _tag: '2', _type: 'row', type: 'forward', tx_pkt: 1 });
    expect(stats[2]).toEqual({ _tag: '2', _type: 'row', type: 'reg_super', rx_pkt: 2, nak: 0 });
    const comms = await mgmt(mport, 'r 3 communities');
    expect(comms.map((c) => c.community)).toEqual(['-/-', 'e2e']);

    // What upstream's n2n-ctl expects of the replies (always), then the script itself where a checkout of n2n
    // sits beside the project (developer machines, not CI).
    const ctl = new N2nCtlClient(mport, 'n2n');
    expect((await ctl.read('edges')).map((e) => e.macaddr).sort()).toEqual([
      '02:00:00:00:00:AA',
      '02:00:00:00:00:BB',
    ]);
    expect(await ctl.write('verbose 3')).toEqual([{ traceLevel: 3 }]);
    const n2nCtl = upstreamN2nCtl();
    if (n2nCtl !== undefined) {
      const { stdout } = await execFileP('python3', [n2nCtl, '-t', String(mport), 'edges']);
      expect(stdout).toContain('02:00:00:00:00:AA');
      const w = await execFileP('python3', [
        n2nCtl,
        '-t',
        String(mport),
        '--write',
        '-k',
        'n2n',
        'verbose',
        '3',
      ]);
      expect(JSON.parse(w.stdout)).toEqual([{ traceLevel: 3 }]);
    }

    a.client.close();
    b.client.close();
    sn.child.kill('SIGTERM');
    expect(await sn.exited).toBe(0);
  });

  it('federation: two processes, an edge at each reaches the other', async () => {
    const p1 = nextPort();
    const p2 = nextPort();
    const m1 = nextPort();
    const m2 = nextPort();
    const sn1 = await startSupernode([
      '-p',
      String(p1),
      '-t',
      String(m1),
      '-F',
      'e2eFed',
      '-l',
      `${LOCAL}:${p2}`,
    ]);
    const sn2 = await startSupernode([
      '-p',
      String(p2),
      '-t',
      String(m2),
      '-F',
      'e2eFed',
      '-l',
      `${LOCAL}:${p1}`,
    ]);
    // sn1's first REGISTER_SUPER went out before sn2 listened; sn2's reached sn1, and sn1 learns sn2 from it.
    const deadline = Date.now() + 15000;
    for (;;) {
      const [s1, s2] = await Promise.all([mgmt(m1, 'r 1 supernodes'), mgmt(m2, 'r 1 supernodes')]);
      if (s1[0]?.macaddr && s2[0]?.macaddr) break;
      if (Date.now() > deadline) throw new Error('federation did not form');
      await new Promise((r) => setTimeout(r, 200));
    }
    const a = new UdpEdge(await UdpClient.open(), 'fed', MAC_A, p1);
    const b = new UdpEdge(await UdpClient.open(), 'fed', MAC_B, p2);
    a.registerSuper(1);
    const ackA = await a.waitFor(MsgType.REGISTER_SUPER_ACK);
    // Edges are told about the other supernode.
    expect(ackA.type === MsgType.REGISTER_SUPER_ACK && ackA.body.supernodes.map((s) => s.sock.port)).toEqual([
      p2,
    ]);
    b.registerSuper(2);
    await b.waitFor(MsgType.REGISTER_SUPER_ACK);
    // The relayed registrations arrive shortly after the ACKs.
    await new Promise((r) => setTimeout(r, 300));
    a.packet(MAC_B, payload);
    const p = await b.waitFor(MsgType.PACKET);
    expect(p.type === MsgType.PACKET && p.body.srcMac).toBe(MAC_A);
    expect(b.client.got.find((g) => g.data.length === 1446)?.port).toBe(p2);
    b.packet(MAC_A, payload);
    await a.waitFor(MsgType.PACKET);
    // QUERY_PEER for the remote edge comes back through the federation.
    a.send({
      type: MsgType.QUERY_PEER,
      common: a.common(MsgType.QUERY_PEER),
      body: { srcMac: MAC_A, targetMac: MAC_B, aflags: 0 },
    });
    const pi = await a.waitFor(MsgType.PEER_INFO);
    expect(pi.type === MsgType.PEER_INFO && pi.body.sock.port).toBe(b.client.port);
    a.client.close();
    b.client.close();
    sn1.child.kill('SIGINT');
    sn2.child.kill('SIGTERM');
    expect(await sn1.exited).toBe(0);
    expect(await sn2.exited).toBe(0);
  });

  it('accepts an edge over TCP on the same port (edge -S2) and relays to it', async () => {
    const port = nextPort();
    const mport = nextPort();
    const sn = await startSupernode(['-p', String(port), '-t', String(mport)]);
    const tcp = connect({ host: LOCAL, port });
    await new Promise<void>((r, j) => {
      tcp.once('connect', () => r());
      tcp.once('error', j);
    });
    let stream = Buffer.alloc(0);
    const frames: Buffer[] = [];
    tcp.on('data', (d: Buffer) => {
      stream = Buffer.concat([stream, d]);
      while (stream.length >= 2 && stream.length >= 2 + stream.readUInt16BE(0)) {
        frames.push(stream.subarray(2, 2 + stream.readUInt16BE(0)));
        stream = stream.subarray(2 + stream.readUInt16BE(0));
      }
    });
    const helper = await UdpClient.open();
    // An encoder-only edge: its datagrams are written to the TCP stream with a 2-byte length.
    const a = new UdpEdge(helper, 'tcpnet', MAC_A, port);
    const framed = (msg: Message): Buffer => {
      const buf = Buffer.alloc(2048);
      const len = encodeMessage(msg, buf, 2);
      buf.writeUInt16BE(len - 2, 0);
      return buf.subarray(0, len);
    };
    tcp.write(
      framed({
        type: MsgType.REGISTER_SUPER,
        common: a.common(MsgType.REGISTER_SUPER),
        body: {
          cookie: 77,
          edgeMac: MAC_A,
          devAddr: { addr: 0x0a0000aa, bitlen: 24 },
          desc: fixedString('tcp', 16),
          auth: { scheme: 1, token: new Uint8Array(16).fill(1) },
          keyTime: 0,
        },
      }),
    );
    const ack = await helper.until(() =>
      frames.map((f) => decodeMessage(f)).find((m) => m.type === MsgType.REGISTER_SUPER_ACK),
    );
    expect(ack.type === MsgType.REGISTER_SUPER_ACK && ack.body.cookie).toBe(77);
    const edges = await mgmt(mport, 'r 1 edges');
    expect(edges[0].proto).toBe('TCP');
    const b = new UdpEdge(await UdpClient.open(), 'tcpnet', MAC_B, port);
    b.registerSuper(1);
    await b.waitFor(MsgType.REGISTER_SUPER_ACK);
    b.packet(MAC_A, payload);
    const p = await helper.until(() =>
      frames.map((f) => decodeMessage(f)).find((m) => m.type === MsgType.PACKET),
    );
    expect(p.type === MsgType.PACKET && p.body.srcMac).toBe(MAC_B);
    tcp.destroy();
    helper.close();
    b.client.close();
    sn.child.kill('SIGTERM');
    expect(await sn.exited).toBe(0);
  });

  it('bad flags and bad config end with one line and exit code 2', async () => {
    const run = async (args: string[]): Promise<{ code: number; stderr: string }> => {
      try {
        await execFileP(process.execPath, [MAIN, 'supernode', ...args]);
        return { code: 0, stderr: '' };
      } catch (e) {
        const err = e as { code: number; stderr: string };
        return { code: err.code, stderr: err.stderr };
      }
    };
    const cases: [string[], RegExp][] = [
      [['-p', 'abc'], /-p expects/],
      [['-a', '10.0.0.0/8'], /auto-IP range/],
      [['-l', 'nohostport'], /no port/],
      [
        ['-c', join(tmp, 'missing.list'), '-t', String(nextPort()), '-p', String(nextPort())],
        /community file .* not found/,
      ],
      [[join(tmp, 'missing.conf')], /config file .* not found/],
      [['--bogus'], /unknown option/],
    ];
    const conf = join(tmp, 'bad.conf');
    writeFileSync(conf, '-p=notaport\n');
    cases.push([[conf], /bad\.conf: .*-p expects/]);
    for (const [args, re] of cases) {
      const r = await run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(r.stderr, args.join(' ')).toMatch(re);
    }
  });

  it('reads a config file given first, with later options overriding it', async () => {
    const port = nextPort();
    const mport = nextPort();
    const list = join(tmp, 'community.list');
    writeFileSync(list, 'mynetwork\nntop[0-1][0-9]\n');
    const conf = join(tmp, 'supernode.conf');
    writeFileSync(conf, `# test\n-p=${nextPort()}\n-c ${list}\n--management-password=sekrit\n-f\n`);
    const sn = await startSupernode([conf, '-p', String(port), '-t', String(mport)]);
    expect(sn.stderr.join('')).toContain(`[::]:${port} (main)`);
    expect(sn.stderr.join('')).toContain('1 fixed, 1 patterns');
    await expect(mgmt(mport, 'w 1:1:n2n verbose 2')).rejects.toThrow(/badauth/);
    expect(await mgmt(mport, 'w 1:1:sekrit reload_communities')).toEqual([
      { _tag: '1', _type: 'row', ok: 0 },
    ]);
    await mgmt(mport, 'w 2:1:sekrit stop');
    expect(await sn.exited).toBe(0);
  });
});
