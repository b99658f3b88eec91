// Management protocol core shared by edge and supernode (spec §13): request parsing, auth, JSON replies, events.
import { pearsonHash64BigInt } from '../crypto/pearson.js';
import type { UdpSocket } from '../io/types.js';
import type { SockAddr } from '../util/ip.js';

/** JSON requests are read from the first 79 bytes only (sn_management.c / edge_management.c: cmdlinebuf[80]). */
export const JSON_REQUEST_MAX_BYTES = 79;
/** The tag used in errors raised before the request's own tag is known. */
export const UNKNOWN_TAG = '-1';
/** Flag bit 0 of the options field: a password subfield follows (doc/ManagementAPI.md). */
export const MGMT_FLAG_AUTH = 1;
/** Default management password of both programs (n2n_define.h: N2N_MGMT_PASSWORD). */
export const DEFAULT_MGMT_PASSWORD = 'n2n';
/** Largest datagram we receive on a management socket (N2N_PKT_BUF_SIZE). */
export const MGMT_BUF_BYTES = 2048;

/** Request kinds: read, write, subscribe. */
export const MgmtType = { READ: 'r', WRITE: 'w', SUB: 's' } as const;
export type MgmtType = (typeof MgmtType)[keyof typeof MgmtType];

/** The error words n2n sends in `{"_type":"error","error":…}` (spec §13.2). */
export const MgmtError = {
  BADAUTH: 'badauth',
  BADTYPE: 'badtype',
  NOTYPE: 'notype',
  NOOPTIONS: 'nooptions',
  NOCMD: 'nocmd',
  UNKNOWNCMD: 'unknowncmd',
  READONLY: 'readonly',
  UNIMPLEMENTED: 'unimplemented',
  NOACCESS: 'noaccess',
  WRITEONLY: 'writeonly',
  NOFILE: 'nofile',
  UNKNOWNTOPIC: 'unknowntopic',
} as const;

/** A JSON row or event body: keys in the order they are printed. */
export type MgmtFields = Record<string, string | number>;

/** A parsed JSON request. */
export interface MgmtRequest {
  type: MgmtType;
  tag: string;
  flags: number;
  /** The password subfield, when flag bit 0 is set and one is present. */
  auth?: string;
  /** The command (or topic for `s`). */
  cmd: string;
  /** The rest of the line after the command, unparsed. */
  argv?: string;
  from: SockAddr;
}

/** The outcome of parsing one request line. */
export type ParseResult = { ok: true; request: MgmtRequest } | { ok: false; tag: string; error: string };

/** Replies to one request; every call sends one datagram. */
export interface MgmtReply {
  readonly tag: string;
  row(fields: MgmtFields): void;
  error(error: string): void;
  /** Sends `{"_tag":tag,"_type":type,...fields}`. */
  send(type: string, fields?: MgmtFields): void;
}

/** One JSON command. `run` may reply with rows or an error between the begin and end the core sends. */
export interface MgmtCommand<C> {
  cmd: string;
  help: string;
  /** May be called with a `w` request (FLAG_WROK). */
  writeOk?: boolean;
  run(ctx: C, req: MgmtRequest, reply: MgmtReply): void;
}

/** An event topic for `s` requests. */
export interface MgmtTopic {
  name: string;
  help: string;
}

/** The topic that receives a copy of every event (edge_management.c: N2N_EVENT_DEBUG). */
export const DEBUG_TOPIC = 'debug';

// ------------------------------------------------------------------ strtok

/** C strtok over a string: skips leading delimiters, returns the next token, remembers where it stopped. */
class Strtok {
  private pos = 0;
  constructor(private readonly s: string) {}

  next(delims: string): string | undefined {
    const s = this.s;
    let i = this.pos;
    while (i < s.length && delims.includes(s[i])) i++;
    if (i >= s.length) {
      this.pos = s.length;
      return undefined;
    }
    let j = i;
    while (j < s.length && !delims.includes(s[j])) j++;
    // The delimiter that ended the token is consumed (strtok writes a NUL over it).
    this.pos = j < s.length ? j + 1 : j;
    return s.slice(i, j);
  }
}

/** strtoul(s, NULL, base) for base 16 or 0: the longest valid prefix, 0 when there is none. */
export function cStrtoul(s: string, base: 0 | 16): number {
  const t = s.trimStart();
  if (base === 16) {
    const m = /^[+]?(?:0[xX])?([0-9a-fA-F]+)/.exec(t);
    return m ? Number.parseInt(m[1], 16) >>> 0 : 0;
  }
  const hex = /^[+]?0[xX]([0-9a-fA-F]+)/.exec(t);
  if (hex) return Number.parseInt(hex[1], 16) >>> 0;
  const oct = /^[+]?0([0-7]*)/.exec(t);
  if (oct) return oct[1] ? Number.parseInt(oct[1], 8) >>> 0 : 0;
  const dec = /^[+]?([0-9]+)/.exec(t);
  return dec ? Number(dec[1]) >>> 0 : 0;
}

/**
 * Parses a JSON request line the way n2n does (sn_management.c / edge_management.c: handleMgmtJson):
 * `<type> <tag[:flags[:password]]> <cmd> [rest]`, fields split by strtok, only the first 79 bytes used.
 * `allowed` lists the request types the program accepts; `tagMaxChars` truncates the tag (the edge keeps 9).
 */
export function parseMgmtRequest(
  text: string,
  from: SockAddr,
  allowed: readonly MgmtType[],
  tagMaxChars = Number.POSITIVE_INFINITY,
): ParseResult {
  const line = text.slice(0, JSON_REQUEST_MAX_BYTES);
  const tok = new Strtok(line);
  const typeWord = tok.next(' \r\n');
  if (typeWord === undefined) return { ok: false, tag: UNKNOWN_TAG, error: MgmtError.NOTYPE };
  const type = typeWord[0] as MgmtType;
  if (!allowed.includes(type)) return { ok: false, tag: UNKNOWN_TAG, error: MgmtError.BADTYPE };
  const options = tok.next(' \r\n');
  if (options === undefined) return { ok: false, tag: UNKNOWN_TAG, error: MgmtError.NOOPTIONS };
  const cmd = tok.next(' \r\n');
  if (cmd === undefined) return { ok: false, tag: UNKNOWN_TAG, error: MgmtError.NOCMD };
  const argv = tok.next('\r\n');
  const opt = new Strtok(options);
  const tag = (opt.next(':') ?? '').slice(0, tagMaxChars);
  const flagWord = opt.next(':');
  const flags = flagWord === undefined ? 0 : cStrtoul(flagWord, 16);
  const auth = flags & MGMT_FLAG_AUTH ? opt.next(':') : undefined;
  return { ok: true, request: { type, tag, flags, auth, cmd, argv, from } };
}

/** H64 of a password as n2n compares it (the bytes of the string, no terminator). */
export function mgmtPasswordHash(password: string | Uint8Array): bigint {
  const bytes = typeof password === 'string' ? new TextEncoder().encode(password) : password;
  return pearsonHash64BigInt(bytes);
}

/**
 * sn_management.c / edge_management.c: mgmt_auth. A password, when given, must hash like the configured
 * one; without a password only reads are allowed.
 */
export function mgmtAuthorized(req: MgmtRequest, passwordHash: bigint): boolean {
  if (req.auth !== undefined) return mgmtPasswordHash(Buffer.from(req.auth, 'latin1')) === passwordHash;
  return req.type === MgmtType.READ;
}

/** One JSON reply datagram: `{"_tag":…,"_type":…,…}` plus the newline n2n ends every object with. */
export function mgmtJson(tag: string, type: string, fields?: MgmtFields): string {
  return `${JSON.stringify({ _tag: tag, _type: type, ...fields })}\n`;
}

// ------------------------------------------------------------------ server

export interface ManagementServerOptions<C> {
  /** Handed to every command. */
  context: C;
  /** H64 of the management password (see mgmtPasswordHash). */
  passwordHash: bigint;
  /** The JSON commands, in the order `help` lists them. */
  commands: readonly MgmtCommand<C>[];
  /** Event topics; `s` requests are accepted only when there are some. `debug` gets copies of all events. */
  topics?: readonly MgmtTopic[];
  /**
   * Which datagrams are JSON requests: `rw` — only `r ` and `w ` (3.1.1 supernode, plus `s ` when there are
   * topics); `lowercase` — any lowercase letter followed by a space (edge).
   */
  jsonDetect: 'rw' | 'lowercase';
  /** Truncate tags to this many characters (edge: 9). */
  tagMaxChars?: number;
  /** The `end` object carries `cmd` (edge) or not (supernode). */
  endIncludesCmd: boolean;
  /** Handles every non-JSON datagram (legacy text commands); `send` sends one text datagram back. */
  legacy(ctx: C, text: string, from: SockAddr, send: (text: string) => void): void;
}

interface Subscriber {
  tag: string;
  to: SockAddr;
}

/**
 * Serves one management UDP socket: JSON requests go through parse → auth → command lookup → begin/rows/end;
 * everything else goes to the legacy handler. Never throws out of the datagram handler.
 */
export class ManagementServer<C> {
  private readonly subscribers = new Map<string, Subscriber>();
  private readonly allowed: MgmtType[];
  /** Requests handled, and requests that ended in an error reply or threw (for tests and status). */
  readonly stats = { requests: 0, errors: 0 };

  constructor(
    private readonly socket: UdpSocket,
    private readonly options: ManagementServerOptions<C>,
  ) {
    this.allowed = options.topics?.length ? [MgmtType.READ, MgmtType.WRITE, MgmtType.SUB] : ['r', 'w'];
    socket.onDatagram((data, from) => this.handle(data, from));
  }

  /** The bound management socket address. */
  get address(): SockAddr {
    return this.socket.local;
  }

  get topics(): readonly MgmtTopic[] {
    return this.options.topics ?? [];
  }

  /** The current subscriber of a topic (for `help.events`). */
  subscriber(topic: string): { tag: string; to: SockAddr } | undefined {
    return this.subscribers.get(topic);
  }

  /** Sends one text datagram. */
  sendText(text: string, to: SockAddr): void {
    const b = Buffer.from(text, 'utf8');
    try {
      this.socket.send(b, 0, b.length, to);
    } catch {
      this.stats.errors++;
    }
  }

  /** Processes one received datagram. */
  handle(data: Uint8Array, from: SockAddr): void {
    this.stats.requests++;
    // The request is a C string: it ends at the received length or the first NUL.
    let end = data.indexOf(0);
    if (end < 0) end = data.length;
    const text = Buffer.from(data.buffer, data.byteOffset, end).toString('latin1');
    try {
      if (this.isJson(text)) this.handleJson(text, from);
      else this.options.legacy(this.options.context, text, from, (t) => this.sendText(t, from));
    } catch (err) {
      this.stats.errors++;
      this.sendText(mgmtJson(UNKNOWN_TAG, 'error', { error: String((err as Error)?.message ?? err) }), from);
    }
  }

  private isJson(text: string): boolean {
    if (text.length < 2 || text[1] !== ' ') return false;
    const c = text[0];
    if (this.options.jsonDetect === 'lowercase') return c >= 'a' && c <= 'z';
    return (this.allowed as string[]).includes(c);
  }

  private replyTo(tag: string, to: SockAddr): MgmtReply {
    const send = (type: string, fields?: MgmtFields): void => this.sendText(mgmtJson(tag, type, fields), to);
    return {
      tag,
      send,
      row: (fields) => send('row', fields),
      error: (error) => {
        this.stats.errors++;
        send('error', { error });
      },
    };
  }

  private handleJson(text: string, from: SockAddr): void {
    const o = this.options;
    const parsed = parseMgmtRequest(text, from, this.allowed, o.tagMaxChars);
    if (!parsed.ok) {
      this.replyTo(parsed.tag, from).error(parsed.error);
      return;
    }
    const req = parsed.request;
    const reply = this.replyTo(req.tag, from);
    if (!mgmtAuthorized(req, o.passwordHash)) {
      reply.error(MgmtError.BADAUTH);
      return;
    }
    if (req.type === MgmtType.SUB) {
      this.subscribe(req, reply);
      return;
    }
    const command = o.commands.find((c) => c.cmd === req.cmd);
    if (command === undefined) {
      reply.error(MgmtError.UNKNOWNCMD);
      return;
    }
    if (req.type === MgmtType.WRITE && !command.writeOk) {
      reply.error(MgmtError.READONLY);
      return;
    }
    reply.send('begin', { cmd: req.cmd });
    try {
      command.run(o.context, req, reply);
    } finally {
      reply.send('end', o.endIncludesCmd ? { cmd: req.cmd } : undefined);
    }
  }

  private subscribe(req: MgmtRequest, reply: MgmtReply): void {
    if (!this.topics.some((t) => t.name === req.cmd)) {
      reply.error(MgmtError.UNKNOWNTOPIC);
      return;
    }
    const old = this.subscribers.get(req.cmd);
    if (old !== undefined) {
      this.sendText(mgmtJson(old.tag, 'unsubscribed', { topic: req.cmd }), old.to);
      reply.send('replacing', { topic: req.cmd });
    }
    this.subscribers.set(req.cmd, { tag: req.tag, to: { ...req.from } });
    reply.send('subscribe', { topic: req.cmd });
  }

  /**
   * Publishes an event on `topic` to its subscriber and to the `debug` subscriber, with the topic
   * subscriber's tag (or the debug one's when the topic has none), like edge_management.c: mgmt_event_post.
   */
  post(topic: string, fields: MgmtFields): void {
    const sub = this.subscribers.get(topic);
    const debug = topic === DEBUG_TOPIC ? undefined : this.subscribers.get(DEBUG_TOPIC);
    if (sub === undefined && debug === undefined) return;
    const text = mgmtJson((sub ?? debug)!.tag, 'event', fields);
    if (sub !== undefined) this.sendText(text, sub.to);
    if (debug !== undefined) this.sendText(text, debug.to);
  }

  close(): void {
    this.subscribers.clear();
    this.socket.close();
  }
}

// ------------------------------------------------------------------ shared commands

/** `help`: one row per command, `cmd` and `help` (reads and writes both allowed). */
export function helpCommand<C>(commands: () => readonly MgmtCommand<C>[]): MgmtCommand<C> {
  return {
    cmd: 'help',
    help: 'Show JSON commands',
    writeOk: true,
    run(_ctx, _req, reply) {
      for (const c of commands()) reply.row({ cmd: c.cmd, help: c.help });
    },
  };
}

/** `help.events`: one row per topic with its subscriber's tag and address (`?:?` when none). */
export function helpEventsCommand<C>(server: () => ManagementServer<C>): MgmtCommand<C> {
  return {
    cmd: 'help.events',
    help: 'Show available Subscribe topics',
    run(_ctx, _req, reply) {
      const s = server();
      for (const t of s.topics) {
        const sub = s.subscriber(t.name);
        reply.row({
          topic: t.name,
          tag: sub?.tag ?? '',
          sockaddr: sub ? `${sub.to.address}:${sub.to.port}` : '?:?',
          help: t.help,
        });
      }
    },
  };
}

/** `post.test`: replies `sending` and posts the argument as a `test` event. */
export function postTestCommand<C>(server: () => ManagementServer<C>): MgmtCommand<C> {
  return {
    cmd: 'post.test',
    help: 'send a test event',
    run(_ctx, req, reply) {
      reply.row({ sending: 'test' });
      server().post('test', { test: req.argv ?? '' });
    },
  };
}

/** `verbose`: a write sets the level from the argument (strtoul base 0); both reply `traceLevel`. */
export function verboseCommand<C>(level: {
  get(ctx: C): number;
  set(ctx: C, level: number): void;
}): MgmtCommand<C> {
  return {
    cmd: 'verbose',
    help: 'Manage verbosity level',
    writeOk: true,
    run(ctx, req, reply) {
      if (req.type === MgmtType.WRITE && req.argv !== undefined) level.set(ctx, cStrtoul(req.argv, 0));
      reply.row({ traceLevel: level.get(ctx) });
    },
  };
}

/** Prints a C `%-Ns` / `%Ns` field: pads to `width`, never truncates. */
export function padRight(s: string, width: number): string {
  return s.length >= width ? s : s + ' '.repeat(width - s.length);
}

export function padLeft(s: string, width: number): string {
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}
