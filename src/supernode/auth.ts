// Edge authentication (spec §8): ID tokens, user/password users and trailers, dynamic keys, RE_REGISTER_SUPER.
import {
  AUTH_KEY_BYTES,
  AUTH_PW_TOKEN_BYTES,
  AuthSecret,
  buildAckToken,
  checkTrailer,
  dynamicKey,
  federationPrivateKey,
  generateSharedSecret,
} from '../transform/auth.js';
import { AUTH_TRAILER_BYTES, dynamicHeaderKeys, HeaderKeyUsed } from '../transform/header.js';
import { encodeReRegisterSuper } from '../wire/messages.js';
import { type Auth, AuthScheme, type Common, Flags, MsgType, N2N_DEFAULT_TTL } from '../wire/types.js';
import type { CommunityTable } from './communities.js';
import { type Community, keyId, type SnPeer, type SnUser } from './community.js';
import type { CommunityUser } from './community-list.js';
import type { SnContext } from './context.js';
import type { Transport } from './transport.js';

/** The auth field of answers that carry none (and of every NAK). */
export const ZERO_AUTH: Auth = { scheme: AuthScheme.NONE, token: new Uint8Array(0) };

/**
 * Owns the dynamic key time and the federation's private key (the shared secrets of the file's users derive
 * from it). Decides whether a registration authenticates and what the ACK's auth field says; registry.ts
 * acts on the answer.
 */
export class Authenticator {
  private readonly ctx: SnContext;
  private readonly table: CommunityTable;
  private readonly transport: Transport;
  /** sss->dynamic_key_time: set when the community file is (re)loaded, or adopted from the federation. */
  private dynamicKeyTime = 0;
  private federationPrivKey: Uint8Array | undefined;

  constructor(ctx: SnContext, table: CommunityTable, transport: Transport) {
    this.ctx = ctx;
    this.table = table;
    this.transport = transport;
  }

  /** The dynamic key time (0 without a community file). */
  get keyTime(): number {
    return this.dynamicKeyTime;
  }

  /** A `* name key` line as a user, with the secret shared with the federation; throws on an unusable key. */
  makeUser(u: CommunityUser): SnUser {
    this.federationPrivKey ??= federationPrivateKey(this.ctx.config.federationName);
    const secret = new AuthSecret(generateSharedSecret(this.federationPrivKey, u.publicKey));
    return { name: u.name, publicKey: u.publicKey, id: keyId(u.publicKey), secret };
  }

  /** A (re)loaded community file starts a new key time; the keys follow once its communities are in. */
  restartKeyTime(now: number): void {
    this.dynamicKeyTime = now;
  }

  /** A later key time learned from the federation (federation.ts: adoptKeyTime). */
  setKeyTime(keyTime: number): void {
    this.dynamicKeyTime = keyTime;
    this.computeDynamicKeys();
  }

  /** sn_utils.c: calculate_dynamic_keys — user/password communities only. */
  computeDynamicKeys(): void {
    const fedField = this.table.federation.field;
    for (const c of this.table.values()) {
      if (c.isFederation || !c.hasUsers) continue;
      c.dynamicKey = dynamicKey(this.dynamicKeyTime, c.field, fedField);
      c.dynamicKeys = dynamicHeaderKeys(c.dynamicKey, this.ctx.deps.headerBackend);
    }
  }

  /** sn_utils.c: send_re_register_super — under the current (old) dynamic key, to user/password edges. */
  sendReRegisterSuper(): void {
    const { ctx } = this;
    for (const c of this.table.values()) {
      if (c.isFederation || !c.hasUsers || c.edges.size === 0) continue;
      const common: Common = {
        ttl: N2N_DEFAULT_TTL,
        type: MsgType.RE_REGISTER_SUPER,
        flags: Flags.FROM_SUPERNODE,
        community: c.field,
      };
      for (const e of c.edges.values()) {
        const len = encodeReRegisterSuper(common, {}, ctx.ctl, 0);
        ctx.sealer.seal(ctx.ctl, 0, len, c.dynamicKeys!);
        this.transport.sendToPeer(e, ctx.ctl, len);
      }
    }
  }

  /** The listed user a REGISTER_SUPER's token names (its first 32 bytes are the public key), if any. */
  registeringUser(comm: Community, auth: Auth): SnUser | undefined {
    if (!comm.hasUsers || auth.token.length < AUTH_KEY_BYTES) return undefined;
    return comm.users.get(keyId(auth.token, 0, AUTH_KEY_BYTES));
  }

  /**
   * A listed user's REGISTER_SUPER must have decrypted under the static key and end in the trailer
   * E_SS(H128(datagram)) (spec §8.3 step 2); receive.ts left H128 in ctx.trailerHash.
   */
  trailerOk(buf: Uint8Array, keyUsed: HeaderKeyUsed, user: SnUser): boolean {
    return (
      keyUsed === HeaderKeyUsed.STATIC &&
      checkTrailer(this.ctx.trailerHash, buf, buf.length - AUTH_TRAILER_BYTES, user.secret)
    );
  }

  /**
   * sn_utils.c: handle_remote_auth — a new edge. Communities with users accept only scheme 2 with a listed
   * key, the others anything but scheme 2. Returns the ACK's auth, or undefined when refused.
   */
  remoteAuth(comm: Community, auth: Auth): Auth | undefined {
    if (comm.hasUsers !== (auth.scheme === AuthScheme.USER_PASSWORD)) return undefined;
    if (auth.scheme === AuthScheme.NONE || auth.scheme === AuthScheme.ID) return ZERO_AUTH;
    if (auth.scheme === AuthScheme.USER_PASSWORD) return this.userAnswer(comm, auth);
    return undefined;
  }

  /** sn_utils.c: auth_edge — a known edge must present what it registered with. */
  knownAuth(comm: Community, e: SnPeer, auth: Auth): Auth | undefined {
    if (e.authScheme === AuthScheme.NONE) return ZERO_AUTH;
    if (e.authScheme === AuthScheme.ID && auth.scheme === AuthScheme.ID) {
      return e.authTokenEquals(auth.token) ? ZERO_AUTH : undefined;
    }
    if (e.authScheme === AuthScheme.USER_PASSWORD && auth.scheme === AuthScheme.USER_PASSWORD) {
      // Stricter than C: the same user key as at registration (C accepts any listed user).
      if (!e.authTokenEquals(auth.token, AUTH_KEY_BYTES)) return undefined;
      return this.userAnswer(comm, auth);
    }
    return undefined;
  }

  /** The answer token for a listed user (8.3 step 3), or undefined when the key is not listed. */
  private userAnswer(comm: Community, auth: Auth): Auth | undefined {
    if (auth.token.length !== AUTH_PW_TOKEN_BYTES || comm.dynamicKey === undefined) return undefined;
    const user = comm.users.get(keyId(auth.token, 0, AUTH_KEY_BYTES));
    if (user === undefined) return undefined;
    return {
      scheme: AuthScheme.USER_PASSWORD,
      token: buildAckToken(auth.token, 0, comm.dynamicKey, user.secret),
    };
  }
}
