// The edge side of authentication: the random-id token (scheme 1) or user/password (scheme 2, spec §8).
import {
  AUTH_CHALLENGE_BYTES,
  AUTH_PW_TOKEN_BYTES,
  AuthSecret,
  buildRegisterSuperToken,
  checkTrailer,
  computeTrailer,
  DEFAULT_FEDERATION_NAME,
  federationPublicKey,
  generatePublicKey,
  generateSharedSecret,
  openAckToken,
  publicKeyFromAscii,
  userPrivateKey,
} from '../transform/auth.js';
import {
  AUTH_TRAILER_BYTES,
  DYNAMIC_KEY_BYTES,
  dynamicHeaderKeys,
  type HeaderBackend,
  type HeaderKeys,
} from '../transform/header.js';
import type { Random } from '../util/random.js';
import { type Auth, AuthScheme } from '../wire/types.js';
import type { EdgeConfig } from './options.js';

/** Size of the scheme-1 random id token (N2N_AUTH_ID_TOKEN_SIZE). */
export const ID_TOKEN_BYTES = 16;

/** What the edge needs from its authentication scheme. */
export interface EdgeAuth {
  readonly scheme: number;
  /** The auth field for REGISTER_SUPER / UNREGISTER_SUPER; scheme 2 draws a fresh challenge each time. */
  localAuth(): Auth;
  /** Scheme 2: appends the trailer after the header-encrypted datagram buf[off, off+len); returns the new length. */
  appendTrailer(buf: Uint8Array, off: number, len: number): number;
  /** Scheme 2: checks the trailer (the 16 bytes before `end`) against the pre-decryption hash. */
  checkTrailer(hash: Uint8Array, buf: Uint8Array, end: number): boolean;
  /** Scheme 2: checks the ACK's answer token and returns the dynamic header keys it carries, or undefined. */
  handleAckAuth(auth: Auth): HeaderKeys | undefined;
  /** Scheme 2: random dynamic keys used until the first valid ACK (edge_utils.c: edge_init). */
  randomDynamicKeys(): HeaderKeys;
}

class IdAuth implements EdgeAuth {
  readonly scheme = AuthScheme.ID;
  private readonly auth: Auth;

  /** `token`: the one kept across restarts (the CLI's state file); else a fresh random one (edge_utils.c: edge_init). */
  constructor(random: Random, kept: Uint8Array | undefined) {
    const token = new Uint8Array(ID_TOKEN_BYTES);
    if (kept !== undefined) token.set(kept);
    else random.fill(token);
    this.auth = { scheme: AuthScheme.ID, token };
  }

  localAuth(): Auth {
    return this.auth;
  }

  appendTrailer(_buf: Uint8Array, _off: number, len: number): number {
    return len;
  }

  checkTrailer(): boolean {
    return true;
  }

  handleAckAuth(): HeaderKeys | undefined {
    return undefined;
  }

  randomDynamicKeys(): HeaderKeys {
    throw new Error('random dynamic keys are only used with user/password authentication');
  }
}

class UserPasswordAuth implements EdgeAuth {
  readonly scheme = AuthScheme.USER_PASSWORD;
  private readonly random: Random;
  private readonly publicKey: Uint8Array;
  private readonly secret: AuthSecret;
  /** The challenge of the latest REGISTER_SUPER / UNREGISTER_SUPER. */
  private readonly challenge = new Uint8Array(AUTH_CHALLENGE_BYTES);
  private readonly dk = new Uint8Array(DYNAMIC_KEY_BYTES);
  private readonly headerBackend: HeaderBackend | undefined;

  constructor(config: EdgeConfig, random: Random, headerBackend?: HeaderBackend) {
    this.headerBackend = headerBackend;
    this.random = random;
    // edge.c: main: priv = H256(H256(password)) ^ H256(desc); pub = X25519(priv, G'); SS with the federation key.
    const priv = userPrivateKey(config.description, config.password ?? '');
    this.publicKey = generatePublicKey(priv);
    const fedPub =
      config.federationKey !== undefined
        ? publicKeyFromAscii(config.federationKey)
        : federationPublicKey(DEFAULT_FEDERATION_NAME);
    this.secret = new AuthSecret(generateSharedSecret(priv, fedPub));
  }

  localAuth(): Auth {
    this.random.fill(this.challenge);
    const token = buildRegisterSuperToken(this.publicKey, this.challenge, this.secret);
    return { scheme: AuthScheme.USER_PASSWORD, token };
  }

  appendTrailer(buf: Uint8Array, off: number, len: number): number {
    computeTrailer(buf, off, len, this.secret, buf, off + len);
    return len + AUTH_TRAILER_BYTES;
  }

  checkTrailer(hash: Uint8Array, buf: Uint8Array, end: number): boolean {
    if (end < AUTH_TRAILER_BYTES) return false;
    return checkTrailer(hash, buf, end - AUTH_TRAILER_BYTES, this.secret);
  }

  handleAckAuth(auth: Auth): HeaderKeys | undefined {
    if (auth.scheme !== AuthScheme.USER_PASSWORD || auth.token.length !== AUTH_PW_TOKEN_BYTES)
      return undefined;
    if (!openAckToken(auth.token, 0, this.challenge, this.secret, this.dk)) return undefined;
    return dynamicHeaderKeys(this.dk, this.headerBackend);
  }

  randomDynamicKeys(): HeaderKeys {
    const k = new Uint8Array(DYNAMIC_KEY_BYTES);
    this.random.fill(k);
    return dynamicHeaderKeys(k, this.headerBackend);
  }
}

/** The scheme for this configuration: user/password when a password is set, else a random id. */
export function createEdgeAuth(config: EdgeConfig, random: Random, headerBackend?: HeaderBackend): EdgeAuth {
  return config.password !== undefined
    ? new UserPasswordAuth(config, random, headerBackend)
    : new IdAuth(random, config.authToken);
}
