// The control messages the edge sends: each encoded into one reusable buffer, sealed (-H, user/password trailer) and sent.
//
// Control messages leave at once with a plain send, never through the send path's batch: they are few, and
// n2n sends them the same way (edge_utils.c: sendto_sock). Who sends what, when, is decided by the callers.
import type { SockAddr } from '../util/ip.js';
import { type Mac, NULL_MAC } from '../util/mac.js';
import { encodeMessage } from '../wire/messages.js';
import {
  Flags,
  type Message,
  MsgType,
  N2N_DEFAULT_TTL,
  PKT_BUF_BYTES,
  type Register,
} from '../wire/types.js';
import type { EdgeContext } from './context.js';

export class Control {
  private readonly buf = Buffer.alloc(PKT_BUF_BYTES);

  constructor(private readonly ctx: EdgeContext) {}

  private common(type: number, flags: number): Message['common'] {
    return { ttl: N2N_DEFAULT_TTL, type: type as MsgType, flags, community: this.ctx.community };
  }

  private encode(msg: Message): number {
    return encodeMessage(msg, this.buf, 0);
  }

  /** Header-encrypts (when -H) the message in buf[0, len) and returns its final length. */
  private seal(len: number, useStatic: boolean, trailer: boolean): number {
    const ctx = this.ctx;
    if (!ctx.he) return len;
    ctx.sealer.seal(this.buf, 0, len, useStatic ? ctx.staticKeys! : ctx.dynamicKeys!);
    if (trailer && ctx.userPassword) return ctx.auth.appendTrailer(this.buf, 0, len);
    return len;
  }

  /** Sends buf[0, len); without a destination or socket the message is a counted drop. */
  send(len: number, to: SockAddr | undefined): void {
    const udp = this.ctx.udp;
    if (to === undefined || udp === undefined) {
      this.ctx.drops.txNoRoute++;
      return;
    }
    udp.send(this.buf, 0, len, to);
  }

  /** edge_utils.c: send_register_super. Static key and, with user/password, the trailer. */
  registerSuper(cookie: number, to: SockAddr | undefined): void {
    const ctx = this.ctx;
    const len = this.encode({
      type: MsgType.REGISTER_SUPER,
      common: this.common(MsgType.REGISTER_SUPER, ctx.preferred ? Flags.SOCKET : 0),
      body: {
        cookie,
        edgeMac: ctx.ownMac,
        sock: ctx.preferred,
        devAddr: { addr: ctx.devAddr, bitlen: ctx.devAddr === 0 ? 0 : ctx.devBits },
        desc: ctx.descBytes,
        auth: ctx.auth.localAuth(),
        keyTime: 0,
      },
    });
    this.send(this.seal(len, true, true), to);
  }

  /** edge_utils.c: send_unregister_super. */
  unregisterSuper(to: SockAddr | undefined): void {
    const len = this.encode({
      type: MsgType.UNREGISTER_SUPER,
      common: this.common(MsgType.UNREGISTER_SUPER, 0),
      body: { auth: this.ctx.auth.localAuth(), srcMac: this.ctx.ownMac },
    });
    this.send(this.seal(len, false, false), to);
  }

  /** A QUERY_PEER for `mac` (edge_utils.c: send_query_peer). */
  queryPeer(mac: Mac, to: SockAddr | undefined): void {
    const len = this.encode({
      type: MsgType.QUERY_PEER,
      common: this.common(MsgType.QUERY_PEER, 0),
      body: { srcMac: this.ctx.ownMac, targetMac: mac, aflags: 0 },
    });
    this.send(this.seal(len, false, false), to);
  }

  /**
   * The PING (a QUERY_PEER for the null MAC), encoded and sealed once and left in the buffer: the caller sends
   * it to several supernodes with `send(len, …)` (edge_utils.c: send_query_peer). Returns its length.
   */
  ping(): number {
    const len = this.encode({
      type: MsgType.QUERY_PEER,
      common: this.common(MsgType.QUERY_PEER, 0),
      body: { srcMac: this.ctx.ownMac, targetMac: NULL_MAC, aflags: 0 },
    });
    return this.seal(len, false, false);
  }

  /** edge_utils.c: send_register. `peerMac` 0 for the multicast REGISTER. Nothing when P2P is off. */
  register(to: SockAddr, peerMac: Mac, cookie: number): void {
    const ctx = this.ctx;
    if (!ctx.config.p2p) return;
    const len = this.encode({
      type: MsgType.REGISTER,
      common: this.common(MsgType.REGISTER, 0),
      body: {
        cookie,
        srcMac: ctx.ownMac,
        dstMac: peerMac,
        devAddr: { addr: ctx.devAddr, bitlen: ctx.devAddr === 0 ? 0 : ctx.devBits },
        desc: ctx.descBytes,
      },
    });
    this.send(this.seal(len, false, false), to);
  }

  /** edge_utils.c: send_register_ack. */
  registerAck(to: SockAddr, reg: Register): void {
    if (!this.ctx.config.p2p) return;
    const len = this.encode({
      type: MsgType.REGISTER_ACK,
      common: this.common(MsgType.REGISTER_ACK, 0),
      body: { cookie: reg.cookie, dstMac: reg.srcMac, srcMac: this.ctx.ownMac },
    });
    this.send(this.seal(len, false, false), to);
  }
}
