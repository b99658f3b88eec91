// Every datagram captured from n2n 3.1.1 (test/vectors/A*.json) decodes to the reference reading and re-encodes
// to the same bytes.
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cString, fromHex, toHex } from '../../src/util/bytes.js';
import { macToString } from '../../src/util/mac.js';
import {
  communityName,
  cookieHex,
  createPacketHeaderView,
  type DecodedMessage,
  decodeMessage,
  devAddrToString,
  encodedLengthMessage,
  encodeMessage,
  Flags,
  flagsHex,
  MSG_TYPE_NAMES,
  MsgType,
  messageToJson,
  readPacketHeader,
  SN_ENTRY_BYTES,
  sockToString,
  TransformId,
  writeSnEntry,
} from '../../src/wire/index.js';

import { VECTORS } from './helpers/vectors.js';

interface Datagram {
  i: number;
  hex: string;
  type: string;
  pc: number;
  decoded: Record<string, unknown>;
}
interface VectorFile {
  scenario: { name: string; header_encryption: boolean; cipher: number };
  message_counts: Record<string, number>;
  udp: Datagram[];
}

const files = readdirSync(VECTORS)
  .filter((f) => /^A.*\.json$/.test(f))
  .sort();

/** The fields of `decoded` our typed message must reproduce, in the reference decoder's text forms. */
function referenceView(m: DecodedMessage, len: number): Record<string, unknown> {
  const c = m.common;
  const out: Record<string, unknown> = {
    len,
    version: 3,
    ttl: c.ttl,
    flags: flagsHex(c.flags),
    community: communityName(c.community),
    from_supernode: (c.flags & Flags.FROM_SUPERNODE) !== 0,
    consumed: m.consumed,
  };
  const sock = (s: { family: 4 | 6; port: number; address: string } | undefined): string | null =>
    s ? sockToString(s) : null;
  switch (m.type) {
    case MsgType.REGISTER_SUPER: {
      const b = m.body;
      Object.assign(out, {
        cookie: cookieHex(b.cookie),
        edge_mac: macToString(b.edgeMac),
        sock: sock(b.sock),
        dev_addr: devAddrToString(b.devAddr),
        dev_desc: cString(b.desc),
        auth_scheme: b.auth.scheme,
        auth_token: toHex(b.auth.token),
        key_time: b.keyTime,
      });
      break;
    }
    case MsgType.REGISTER_SUPER_ACK: {
      const b = m.body;
      const sn = new Uint8Array(b.supernodes.length * SN_ENTRY_BYTES);
      for (let i = 0; i < b.supernodes.length; i++) writeSnEntry(sn, i * SN_ENTRY_BYTES, b.supernodes[i]);
      Object.assign(out, {
        cookie: cookieHex(b.cookie),
        src_mac: macToString(b.srcMac),
        dev_addr: devAddrToString(b.devAddr),
        lifetime: b.lifetime,
        sock: sock(b.sock),
        auth_scheme: b.auth.scheme,
        auth_token: toHex(b.auth.token),
        num_sn: b.supernodes.length,
        sn_payload: toHex(sn),
        key_time: b.keyTime,
      });
      break;
    }
    case MsgType.REGISTER: {
      const b = m.body;
      Object.assign(out, {
        cookie: cookieHex(b.cookie),
        src_mac: macToString(b.srcMac),
        dst_mac: macToString(b.dstMac),
        dev_addr: devAddrToString(b.devAddr),
        dev_desc: cString(b.desc),
      });
      if (b.sock) out.sock = sock(b.sock);
      break;
    }
    case MsgType.REGISTER_ACK: {
      const b = m.body;
      Object.assign(out, {
        cookie: cookieHex(b.cookie),
        src_mac: macToString(b.srcMac),
        dst_mac: macToString(b.dstMac),
      });
      if (b.sock) out.sock = sock(b.sock);
      break;
    }
    case MsgType.QUERY_PEER: {
      const b = m.body;
      Object.assign(out, {
        aflags: b.aflags,
        src_mac: macToString(b.srcMac),
        target_mac: macToString(b.targetMac),
      });
      break;
    }
    case MsgType.PEER_INFO: {
      const b = m.body;
      Object.assign(out, {
        aflags: b.aflags,
        src_mac: macToString(b.srcMac),
        mac: macToString(b.mac),
        sock: sock(b.sock),
        load: b.load,
        sn_version: cString(b.version),
        uptime: b.uptime,
      });
      if (b.preferredSock) out.preferred_sock = sock(b.preferredSock);
      break;
    }
    case MsgType.UNREGISTER_SUPER: {
      const b = m.body;
      Object.assign(out, {
        auth_scheme: b.auth.scheme,
        auth_token: toHex(b.auth.token),
        src_mac: macToString(b.srcMac),
      });
      break;
    }
    case MsgType.PACKET: {
      const b = m.body;
      Object.assign(out, {
        src_mac: macToString(b.srcMac),
        dst_mac: macToString(b.dstMac),
        transform: b.transform,
        compression: b.compression,
        payload_offset: m.payloadOffset,
      });
      if (b.sock) out.sock = sock(b.sock);
      break;
    }
    default:
      throw new Error(`unexpected type ${m.type} in a capture`);
  }
  return out;
}

/** Keys of `decoded` that are not about the message itself (header-encryption bookkeeping, decrypted frame). */
const NOT_COMPARED = new Set(['he_ok', 'he_stamp', 'plain_hex', 'frame_hex']);

it('finds the 14 capture files', () => {
  expect(files.length).toBe(14);
});

for (const file of files) {
  const v = JSON.parse(readFileSync(resolve(VECTORS, file), 'utf8')) as VectorFile;
  const he = v.scenario.header_encryption;

  describe(file, () => {
    it('every datagram decodes to the reference fields and re-encodes to the same bytes', () => {
      const counts: Record<string, number> = {};
      const view = createPacketHeaderView();
      for (const u of v.udp) {
        const plainHex = he ? (u.decoded.plain_hex as string) : u.hex;
        if (he) expect(u.decoded.he_ok, `#${u.i}`).toBe(true);
        const bytes = fromHex(plainHex);
        const m = decodeMessage(bytes);
        expect(MSG_TYPE_NAMES[m.type], `#${u.i}`).toBe(u.type);
        expect(m.type).toBe(u.pc);
        counts[u.type] = (counts[u.type] ?? 0) + 1;

        const expected = Object.fromEntries(Object.entries(u.decoded).filter(([k]) => !NOT_COMPARED.has(k)));
        // The reference writes `sock: null` for a REGISTER_SUPER without the SOCKET flag.
        expect(referenceView(m, bytes.length), `#${u.i} ${u.type}`).toEqual(expected);

        // The JSON form of the decode tool agrees with the reference on every key both have.
        const json = messageToJson(m);
        for (const [k, val] of Object.entries(json)) {
          if (k === 'type') expect(val).toBe(u.type);
          else if (k in expected && expected[k] !== null)
            expect(val, `#${u.i} json ${k}`).toEqual(expected[k]);
        }

        // Re-encoding gives the same bytes (for PACKET: the header; the payload is the transform's).
        const len = encodedLengthMessage(m);
        expect(len).toBe(m.consumed);
        const out = new Uint8Array(len + 5);
        expect(encodeMessage(m, out, 5)).toBe(5 + len);
        expect(toHex(out.subarray(5)), `#${u.i} re-encode`).toBe(toHex(bytes.subarray(0, len)));

        if (m.type === MsgType.PACKET) {
          expect(m.payloadOffset).toBe(u.decoded.payload_offset);
          expect(readPacketHeader(bytes, 0, bytes.length, view)).toBe(m.payloadOffset);
          expect(view.srcMac).toBe(m.body.srcMac);
          expect(view.dstMac).toBe(m.body.dstMac);
          expect(view.hasSock).toBe(m.body.sock !== undefined);
          if (m.body.sock)
            expect(
              `${view.sockIpv4 >>> 24}.${(view.sockIpv4 >>> 16) & 255}.${(view.sockIpv4 >>> 8) & 255}.${view.sockIpv4 & 255}:${view.sockPort}`,
            ).toBe(sockToString(m.body.sock));
          expect(view.transform).toBe(v.scenario.cipher);
          // The null transform carries the Ethernet frame as is.
          if (m.body.transform === TransformId.NULL) {
            expect(toHex(bytes.subarray(m.payloadOffset))).toBe(u.decoded.frame_hex);
          }
        } else {
          expect(len, `#${u.i} whole datagram`).toBe(bytes.length);
        }
      }
      expect(counts).toEqual(v.message_counts);
    });
  });
}
