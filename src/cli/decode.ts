// `tsn2n decode`: prints captured n2n datagrams (pcap file or hex lines) as one JSON object per line.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { type Command, Option } from 'commander';
import { pearsonHash128Range } from '../crypto/pearson.js';
import {
  AUTH_CHALLENGE_BYTES,
  AUTH_PW_TOKEN_BYTES,
  AuthSecret,
  checkTrailer,
  generateSharedSecret,
  openAckToken,
  publicKeyFromAscii,
  userPrivateKey,
} from '../transform/auth.js';
import { compressionName, decompressPayload, MAX_DECOMPRESSED_BYTES } from '../transform/compression.js';
import {
  AUTH_TRAILER_BYTES,
  DYNAMIC_KEY_BYTES,
  decryptHeader,
  dynamicHeaderKeys,
  HeaderInfo,
  type HeaderKeys,
  staticHeaderKeys,
} from '../transform/header.js';
import { createTransform, type PayloadTransform, transformName } from '../transform/payload.js';
import { fromHex, toHex } from '../util/bytes.js';
import { ConfigError, WireError } from '../util/errors.js';
import { SystemRandom } from '../util/random.js';
import { communityBytes } from '../wire/common.js';
import { type JsonObject, messageToJson } from '../wire/json.js';
import { type DecodedMessage, decodeMessage } from '../wire/messages.js';
import {
  AuthScheme,
  COMMON_HEADER_BYTES,
  Flags,
  MsgType,
  N2N_PKT_VERSION,
  TransformId,
} from '../wire/types.js';
import { PcapFormatError, readPcap } from './pcap.js';

/** Options of `tsn2n decode`, named after the edge flags they mirror. */
export interface DecodeOptions {
  /** -c: community name (needed for -H: the header keys derive from it). */
  community?: string;
  /** -k: payload key. */
  key?: string;
  /** -A: the cipher the key is for; PACKETs with another transform id are reported, not decrypted. */
  cipher?: number;
  /** -H: headers are encrypted. */
  headerEncryption: boolean;
  /** -I/-J/-P: user/password mode; lets the decoder follow the dynamic header key. */
  user?: string;
  password?: string;
  federationPublicKey?: string;
}

/**
 * The supernode's plaintext test (spec §7.7, sn_utils.c: process_udp): under -H a datagram no key opens is still
 * shown when it looks like a plain n2n header.
 */
function looksPlaintext(d: Uint8Array): boolean {
  if (d.length < COMMON_HEADER_BYTES) return false;
  const word = (d[2] << 8) | d[3];
  return (
    d[0] === N2N_PKT_VERSION &&
    d[COMMON_HEADER_BYTES - 1] === 0 &&
    (word & Flags.TYPE_MASK) <= MsgType.QUERY_PEER &&
    word < Flags.OPTIONS
  );
}

/** How a header was decrypted: key used, stamp, message length without trailer, the trailer and its check. */
interface HeaderResult {
  key: string;
  stamp: string;
  len: number;
  trailer?: string;
  trailerOk?: boolean;
}

function stampHex(s: { hi: number; lo: number }): string {
  return s.hi.toString(16).padStart(8, '0') + s.lo.toString(16).padStart(8, '0');
}

function errorText(e: unknown): string {
  if (e instanceof WireError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Decodes datagrams one at a time. It is stateful only in user/password mode, where each REGISTER_SUPER_ACK
 * seen hands over the dynamic key the later messages are encrypted with.
 */
export class DatagramDecoder {
  private readonly opts: DecodeOptions;
  private readonly community20?: Uint8Array;
  private readonly staticKeys?: HeaderKeys;
  private readonly secret?: AuthSecret;
  /** Dynamic keys learned from answer tokens, newest first. */
  private dynamicKeys: { dk: string; keys: HeaderKeys }[] = [];
  private readonly info = new HeaderInfo();
  private readonly transforms = new Map<number, PayloadTransform>();
  /** Only for createTransform's signature: decoding draws no random numbers. */
  private readonly random = new SystemRandom();

  constructor(opts: DecodeOptions) {
    this.opts = opts;
    const userMode =
      opts.user !== undefined || opts.password !== undefined || opts.federationPublicKey !== undefined;
    if (
      userMode &&
      (opts.user === undefined || opts.password === undefined || opts.federationPublicKey === undefined)
    ) {
      throw new ConfigError(
        'user/password mode needs all of -I <user>, -J <password> and -P <federation public key>',
      );
    }
    if ((opts.headerEncryption || userMode) && opts.community === undefined) {
      throw new ConfigError('header decryption (-H) needs the community name (-c)');
    }
    if (opts.community !== undefined) {
      this.community20 = communityBytes(opts.community);
      this.staticKeys = staticHeaderKeys(this.community20);
    }
    if (userMode) {
      const priv = userPrivateKey(opts.user as string, opts.password as string);
      const pub = publicKeyFromAscii(opts.federationPublicKey as string);
      this.secret = new AuthSecret(generateSharedSecret(priv, pub));
    }
  }

  /** One datagram → one JSON object (`{error}` when it cannot be decoded). Never throws. */
  decode(datagram: Uint8Array): JsonObject {
    try {
      return this.decodeOrThrow(datagram);
    } catch (e) {
      return { error: errorText(e) };
    }
  }

  private decodeOrThrow(datagram: Uint8Array): JsonObject {
    // Header decryption works in place; never touch the caller's bytes.
    const d = new Uint8Array(datagram);
    const he: JsonObject = {};
    let len = d.length;
    if (this.staticKeys && (this.opts.headerEncryption || this.secret)) {
      const r = this.decryptHeader(d);
      if (r === undefined) {
        if (!looksPlaintext(d)) {
          throw new Error('header decryption failed: wrong community (-c), not header-encrypted, or not n2n');
        }
        he.header_encrypted = false;
      } else {
        he.header_encrypted = true;
        he.header_key = r.key;
        he.he_stamp = r.stamp;
        len = r.len;
        if (r.trailer) he.trailer = r.trailer;
        if (r.trailerOk !== undefined) he.trailer_ok = r.trailerOk;
      }
    }
    const msg = decodeMessage(d, 0, len);
    const o: JsonObject = { ...messageToJson(msg), len: datagram.length, ...he };
    if (msg.type !== MsgType.PACKET && msg.consumed < len) o.trailing = toHex(d.subarray(msg.consumed, len));
    if (msg.type === MsgType.REGISTER_SUPER_ACK) this.learnDynamicKey(msg, o);
    if (msg.type === MsgType.PACKET) this.addPayload(msg, d, o);
    return o;
  }

  /**
   * Tries every key this decoder knows (spec §7.6): learned dynamic keys over the full length, then the static
   * keys over the full length, then (user/password mode) the static keys over length − 16 with the trailer.
   */
  private decryptHeader(d: Uint8Array): HeaderResult | undefined {
    const c20 = this.community20 as Uint8Array;
    for (const k of this.dynamicKeys) {
      if (decryptHeader(d, 0, d.length, k.keys, c20, this.info)) {
        return { key: `dynamic ${k.dk}`, stamp: stampHex(this.info), len: d.length };
      }
    }
    const stat = this.staticKeys as HeaderKeys;
    if (decryptHeader(d, 0, d.length, stat, c20, this.info)) {
      return { key: 'static', stamp: stampHex(this.info), len: d.length };
    }
    if (d.length >= COMMON_HEADER_BYTES + AUTH_TRAILER_BYTES) {
      const short = d.length - AUTH_TRAILER_BYTES;
      const trailer = toHex(d.subarray(short));
      // The trailer covers the datagram as received, so hash it before decrypting (spec §7.6).
      const hash = new Uint8Array(AUTH_TRAILER_BYTES);
      pearsonHash128Range(d, 0, short, hash, 0);
      if (decryptHeader(d, 0, short, stat, c20, this.info)) {
        const r: HeaderResult = { key: 'static', stamp: stampHex(this.info), len: short, trailer };
        if (this.secret) r.trailerOk = checkTrailer(hash, d, short, this.secret);
        return r;
      }
    }
    return undefined;
  }

  /** User/password mode: the answer token wraps the dynamic key (spec §8.3); remember it for what follows. */
  private learnDynamicKey(msg: DecodedMessage, o: JsonObject): void {
    if (msg.type !== MsgType.REGISTER_SUPER_ACK || !this.secret) return;
    const auth = msg.body.auth;
    if (auth.scheme !== AuthScheme.USER_PASSWORD || auth.token.length !== AUTH_PW_TOKEN_BYTES) return;
    // token[0..16) = E_SS(E_SS(challenge)): the challenge comes back out of the answer itself.
    const challenge = auth.token.slice(0, AUTH_CHALLENGE_BYTES);
    this.secret.decrypt(challenge, 0);
    this.secret.decrypt(challenge, 0);
    const dk = new Uint8Array(DYNAMIC_KEY_BYTES);
    if (!openAckToken(auth.token, 0, challenge, this.secret, dk)) return;
    const hex = toHex(dk);
    o.dynamic_key = hex;
    if (this.dynamicKeys.some((k) => k.dk === hex)) return;
    this.dynamicKeys.unshift({ dk: hex, keys: dynamicHeaderKeys(dk) });
  }

  /** The transform for a PACKET's id, built once per id from -k; undefined when there is no key for it. */
  private transformFor(id: number): PayloadTransform | undefined {
    let t = this.transforms.get(id);
    if (t === undefined && (id === TransformId.NULL || this.opts.key !== undefined)) {
      t = createTransform(id as TransformId, this.opts.key, this.random);
      this.transforms.set(id, t);
    }
    return t;
  }

  /**
   * Adds `payload` (the Ethernet frame: decrypted, decompressed) when the key allows. No key for a cipher: no
   * payload and no error. A payload that does not decrypt or decompress sets `error` next to the header fields.
   */
  private addPayload(msg: DecodedMessage, d: Uint8Array, o: JsonObject): void {
    if (msg.type !== MsgType.PACKET) return;
    const { transform: id, compression } = msg.body;
    if (id !== TransformId.NULL && this.opts.cipher !== undefined && id !== this.opts.cipher) {
      o.error = `payload: transform ${transformName(id)} (${id}) is not the -A${this.opts.cipher} cipher of the key`;
      return;
    }
    if (id < TransformId.NULL || id > TransformId.SPECK) {
      o.error = `payload: unknown transform id ${id}`;
      return;
    }
    const t = this.transformFor(id);
    if (t === undefined) return;
    const plain = new Uint8Array(msg.payloadLength);
    const n = t.decrypt(d, msg.payloadOffset, msg.payloadLength, plain, 0);
    if (n < 0) {
      o.error = `payload: ${transformName(id)} decryption failed`;
      return;
    }
    const frame = new Uint8Array(MAX_DECOMPRESSED_BYTES);
    const m = decompressPayload(compression, plain, 0, n, frame, 0);
    if (m < 0) {
      o.error = `payload: ${compressionName(compression)} (${compression}) decompression failed`;
      return;
    }
    o.payload = toHex(frame.subarray(0, m));
  }
}

/** Parses -A: 1..5 as in edge (`-A1` null … `-A5` speck). */
function parseCipher(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < TransformId.NULL || n > TransformId.SPECK) {
    throw new ConfigError(
      `-A ${v}: the cipher must be 1 (null), 2 (twofish), 3 (aes), 4 (chacha20) or 5 (speck)`,
    );
  }
  return n;
}

/** Writes one JSON line per UDP datagram of a pcap file, prefixed with `frame`, `time`, `src` and `dst`. */
function decodePcapFile(path: string, dec: DatagramDecoder, write: (s: string) => void): void {
  let file: Uint8Array;
  try {
    file = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    for (const g of readPcap(file)) {
      const where: JsonObject = { frame: g.frame, time: g.time, src: g.src, dst: g.dst };
      const o =
        g.error !== undefined || g.payload === undefined
          ? { error: g.error ?? 'no payload' }
          : dec.decode(g.payload);
      write(`${JSON.stringify({ ...where, ...o })}\n`);
    }
  } catch (e) {
    if (e instanceof PcapFormatError) throw new Error(`${path}: ${e.message}`);
    throw e;
  }
}

/** Hex lines on stdin: one datagram a line; blank lines and `#` comments are skipped. */
async function decodeHexLines(
  input: NodeJS.ReadableStream,
  dec: DatagramDecoder,
  write: (s: string) => void,
): Promise<void> {
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let bytes: Uint8Array;
    try {
      bytes = fromHex(line);
    } catch {
      write(`${JSON.stringify({ error: 'not a hex string' })}\n`);
      continue;
    }
    write(`${JSON.stringify(dec.decode(bytes))}\n`);
  }
}

interface DecodeFlags {
  community?: string;
  key?: string;
  cipher?: number;
  headerEncryption?: boolean;
  user?: string;
  password?: string;
  pubkey?: string;
}

export function registerDecode(program: Command): void {
  program
    .command('decode')
    .description('decode n2n v3 datagrams from a pcap file, or hex lines on stdin, into JSON lines')
    .argument('[file]', 'classic pcap capture (Ethernet, Linux SLL or raw IP); default: hex lines on stdin')
    .option('-c, --community <name>', 'community name (needed to decrypt headers)')
    .option('-k, --key <key>', 'payload encryption key')
    .addOption(
      new Option(
        '-A, --cipher <n>',
        'cipher of the key: 1 null, 2 twofish, 3 aes, 4 chacha20, 5 speck',
      ).argParser(parseCipher),
    )
    .option('-H, --header-encryption', 'headers are encrypted (-H on the edges)')
    .option('-I, --user <name>', 'user name (user/password communities)')
    .option('-J, --password <password>', 'password of that user')
    .option('-P, --pubkey <key>', 'federation public key (as printed by tools/n2n-keygen)')
    .action(async (file: string | undefined, f: DecodeFlags) => {
      const dec = new DatagramDecoder({
        community: f.community,
        key: f.key,
        cipher: f.cipher,
        headerEncryption: f.headerEncryption === true,
        user: f.user,
        password: f.password,
        federationPublicKey: f.pubkey,
      });
      const write = (s: string): void => {
        process.stdout.write(s);
      };
      if (file !== undefined) decodePcapFile(file, dec, write);
      else await decodeHexLines(process.stdin, dec, write);
    });
}
