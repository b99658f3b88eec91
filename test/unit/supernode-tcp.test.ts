// Edges over TCP (`edge -S2`, spec §1): framing, answers on the connection, relaying both ways, limits.
import { describe, expect, it } from 'vitest';
import { edgeRows } from '../../src/management/supernode.js';
import { decodeMessage } from '../../src/wire/messages.js';
import { MsgType } from '../../src/wire/types.js';
import { advance, FakeTcp, frame, makeEnv, startSn, WireEdge } from './supernode-harness.js';

const MAC_A = 0x0200000000aa;
const MAC_B = 0x0200000000bb;
const payload = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);

async function setup() {
  const env = makeEnv();
  const sn = await startSn(env, { tcp: true });
  // `a` only encodes: its datagrams go over the TCP connection instead of its UDP socket.
  const a = new WireEdge(env, '10.7.0.1', { community: 'tcpnet', mac: MAC_A, port: 44001 });
  const conn = new FakeTcp({ family: 4, address: '10.7.0.1', port: 55555 });
  env.tcpAccept!(conn);
  const reg = a.encode({
    type: MsgType.REGISTER_SUPER,
    common: a.common(MsgType.REGISTER_SUPER),
    body: a.registerSuperBody(),
  });
  // One byte at a time: reassembly must not depend on chunk boundaries.
  for (const byte of frame(reg)) conn.write(Uint8Array.of(byte));
  env.net.flush();
  const b = new WireEdge(env, '10.7.0.2', { community: 'tcpnet', mac: MAC_B, port: 44002 });
  b.registerSuper();
  env.net.flush();
  return { env, sn, a, b, conn };
}

describe('TCP edges', () => {
  it('answer REGISTER_SUPER on the connection, and list the edge as TCP', async () => {
    const { sn, conn } = await setup();
    const [ack] = conn.frames().map((f) => decodeMessage(f));
    expect(ack.type).toBe(MsgType.REGISTER_SUPER_ACK);
    if (ack.type !== MsgType.REGISTER_SUPER_ACK) return;
    expect(ack.body.sock).toEqual({ family: 4, address: '10.7.0.1', port: 55555 });
    const rows = edgeRows(sn);
    expect(rows.find((r) => r.macaddr === '02:00:00:00:00:AA')?.proto).toBe('TCP');
    expect(rows.find((r) => r.macaddr === '02:00:00:00:00:BB')?.proto).toBe('UDP');
  });

  it('relays PACKETs from UDP to TCP and back', async () => {
    const { env, a, b, conn } = await setup();
    b.packet(MAC_A, payload);
    env.net.flush();
    const p = conn
      .frames()
      .map((f) => decodeMessage(f))
      .find((m) => m.type === MsgType.PACKET);
    expect(p?.type === MsgType.PACKET && p.body.sock).toEqual({
      family: 4,
      address: '10.7.0.2',
      port: 44002,
    });
    const pkt = a.encode(
      {
        type: MsgType.PACKET,
        common: a.common(MsgType.PACKET),
        body: { srcMac: MAC_A, dstMac: MAC_B, compression: 1, transform: 1 },
        payloadOffset: 0,
        payloadLength: payload.length,
      },
      { payload },
    );
    // Two frames in one chunk.
    conn.write(Buffer.concat([frame(pkt), frame(pkt)]));
    env.net.flush();
    const got = b.ofType(MsgType.PACKET);
    expect(got).toHaveLength(2);
    expect(got[0].body.sock).toEqual({ family: 4, address: '10.7.0.1', port: 55555 });
  });

  it('a frame over 2048 bytes closes the connection; closing deletes the edge', async () => {
    const { sn, conn } = await setup();
    expect(sn.edgeCount).toBe(2);
    conn.write(Uint8Array.of(0x0b, 0xb8)); // 3000
    expect(conn.closed).toBe(true);
    expect(sn.stats.drops.too_long).toBe(1);
    expect(sn.edgeCount).toBe(1);
  });

  it('a hang-up deletes the edge; a purged edge loses its connection; idle connections are closed', async () => {
    const env = makeEnv();
    const sn = await startSn(env, { tcp: true });
    const idle = new FakeTcp({ family: 4, address: '10.7.0.9', port: 1 });
    env.tcpAccept!(idle);
    const { conn } = await (async () => {
      const a = new WireEdge(env, '10.7.0.1', { community: 'tcpnet', mac: MAC_A, port: 44001 });
      const c = new FakeTcp({ family: 4, address: '10.7.0.1', port: 55555 });
      env.tcpAccept!(c);
      c.write(
        frame(
          a.encode({
            type: MsgType.REGISTER_SUPER,
            common: a.common(MsgType.REGISTER_SUPER),
            body: a.registerSuperBody(),
          }),
        ),
      );
      return { conn: c };
    })();
    expect(sn.edgeCount).toBe(1);
    advance(env, 95);
    expect(sn.edgeCount).toBe(0);
    expect(conn.closed).toBe(true);
    expect(idle.closed).toBe(true);
    const again = new FakeTcp({ family: 4, address: '10.7.0.1', port: 55556 });
    env.tcpAccept!(again);
    const a2 = new WireEdge(env, '10.7.0.3', { community: 'tcpnet', mac: MAC_B, port: 44003 });
    again.write(
      frame(
        a2.encode({
          type: MsgType.REGISTER_SUPER,
          common: a2.common(MsgType.REGISTER_SUPER),
          body: a2.registerSuperBody(),
        }),
      ),
    );
    expect(sn.edgeCount).toBe(1);
    again.hangUp();
    expect(sn.edgeCount).toBe(0);
    await sn.stop();
  });
});
