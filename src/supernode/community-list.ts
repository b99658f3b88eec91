// Parser of the supernode's community file (`-c`, spec §8.6): fixed names with optional subnets, users, patterns.
import { publicKeyFromAscii } from '../transform/auth.js';
import { COMMUNITY_MAX_CHARS, DESC_BYTES } from '../wire/types.js';
import { CommunityPattern, isCommunityPattern } from './regex.js';

/** sn_utils.c: load_allowed_sn_community reads lines with fgets into a 4096-byte buffer. */
const LINE_BUFFER_BYTES = 4096;
/** Prefix lengths a community subnet may have (sn_utils.c: 1..30). */
const MIN_SUBNET_BITS = 1;
const MAX_SUBNET_BITS = 30;
/** Characters of a user line's key field ("%43s"). */
const USER_KEY_MAX_CHARS = 43;
/** N2N_USER_KEY_LINE_STARTER. */
const USER_LINE_STARTER = '*';

/** One `* <name> <key>` line. */
export interface CommunityUser {
  name: string;
  /** 32-byte X25519 public key. */
  publicKey: Uint8Array;
}

/** A fixed-name community. */
export interface CommunityListEntry {
  name: string;
  /** Subnet for automatic IP assignment given on the line, if valid. */
  subnet?: { addr: number; bitlen: number };
  users: CommunityUser[];
  line: number;
}

export interface CommunityList {
  communities: CommunityListEntry[];
  patterns: CommunityPattern[];
  /** Lines the C code would have warned about (bad network, bad key), for the log. */
  warnings: string[];
}

/** inet_addr()-like strict dotted quad; -1 when invalid. */
function parseDottedQuad(s: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return -1;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) return -1;
    v = v * 256 + n;
  }
  return v >>> 0;
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Parses `a.b.c.d/nn` as the community file allows it; returns a warning text instead when invalid. */
function parseSubnet(text: string): { addr: number; bitlen: number } | string {
  const m = /^([^/]{1,15})\/(\d+)/.exec(text);
  if (!m) return `bad net/bit format '${text}'`;
  const addr = parseDottedQuad(m[1]);
  const bitlen = Number(m[2]);
  if (addr <= 0 || addr === 0xffffffff || bitlen > 32 || (addr & ~maskOf(bitlen)) >>> 0 !== 0) {
    return `bad network '${text}'`;
  }
  if (bitlen < MIN_SUBNET_BITS || bitlen > MAX_SUBNET_BITS) return `bad prefix '${bitlen}' in '${text}'`;
  return { addr, bitlen };
}

/**
 * Parses community-file text like sn_utils.c: load_allowed_sn_community. Lines shorter than 2 characters and
 * `#` lines are skipped; `* user key` adds a user to the most recent fixed-name community; a first word with
 * one of `.*+?[]\` is a pattern; anything else is a fixed name (truncated to 19 characters), optionally
 * followed by a subnet. A later line with the same name replaces the earlier community.
 */
export function parseCommunityList(text: string): CommunityList {
  const communities: CommunityListEntry[] = [];
  const patterns: CommunityPattern[] = [];
  const warnings: string[] = [];
  let last: CommunityListEntry | undefined;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n];
    if (line.length + 1 > LINE_BUFFER_BYTES) line = line.slice(0, LINE_BUFFER_BYTES - 1);
    // fgets keeps the newline, so a 1-character line has length 2 there: compare with the newline counted.
    const hadNewline = n < lines.length - 1;
    if (line.length + (hadNewline ? 1 : 0) < 2 || line[0] === '#') continue;
    line = line.replace(/[\r\n]+$/, '');
    if (line.length === 0) continue;

    if (line[0] === USER_LINE_STARTER) {
      // sscanf(line, "* %15s %43s", ...) == 2, and a community to attach to; otherwise the line falls
      // through and is read as a community name or pattern, as in C.
      const m = /^\*\s*(\S{1,15})\s*(\S{1,43})/.exec(line);
      if (m && last) {
        try {
          last.users.push({
            name: m[1].slice(0, DESC_BYTES - 1),
            publicKey: publicKeyFromAscii(m[2].slice(0, USER_KEY_MAX_CHARS)),
          });
        } catch (e) {
          warnings.push(`line ${n + 1}: user '${m[1]}': ${(e as Error).message}`);
        }
        continue;
      }
    }

    const words = line.trim().split(/\s+/);
    const word = words[0];
    if (word.length === 0) continue;
    if (isCommunityPattern(word)) {
      patterns.push(new CommunityPattern(word));
      last = undefined;
      continue;
    }
    const name = word.slice(0, COMMUNITY_MAX_CHARS);
    const entry: CommunityListEntry = { name, users: [], line: n + 1 };
    if (words.length >= 2) {
      const net = parseSubnet(words[1]);
      if (typeof net === 'string') warnings.push(`line ${n + 1}: ${net} for community '${name}', ignoring`);
      else entry.subnet = net;
    }
    const dup = communities.findIndex((c) => c.name === name);
    if (dup >= 0) communities.splice(dup, 1);
    communities.push(entry);
    last = entry;
  }
  return { communities, patterns, warnings };
}
