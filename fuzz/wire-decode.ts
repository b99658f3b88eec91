// Fuzz target: every wire message decoder (decodeMessage, readPacketHeader, peekMessageType) on hostile bytes.
import { equalBytes } from '../src/util/bytes.js';
import { WireError } from '../src/util/errors.js';
import {
  createPacketHeaderView,
  decodeMessage,
  encodedLengthMessage,
  encodeMessage,
  MsgType,
  peekMessageType,
  readPacketHeader,
} from '../src/wire/index.js';
import { captures, check, distinct } from './common.js';

const view = createPacketHeaderView();

/** The plaintext of every captured datagram (all message types the lab produced). */
export function seeds(): Uint8Array[] {
  return distinct(captures().flatMap((c) => c.datagrams.map((d) => d.plain)));
}

/** A decoder may only fail with WireError; whatever decodes re-encodes to a fixed point. */
export function fuzz(data: Buffer): void {
  let m: ReturnType<typeof decodeMessage>;
  try {
    m = decodeMessage(data, 0, data.length);
  } catch (e) {
    check(e instanceof WireError, `decodeMessage threw ${String(e)}`);
    try {
      readPacketHeader(data, 0, data.length, view);
    } catch (e2) {
      check(e2 instanceof WireError, `readPacketHeader threw ${String(e2)}`);
    }
    return;
  }
  check(m.consumed <= data.length, 'consumed beyond the datagram');
  check(peekMessageType(data, 0, data.length) === m.type, 'peekMessageType disagrees with decodeMessage');
  const out = new Uint8Array(encodedLengthMessage(m));
  encodeMessage(m, out, 0);
  const again = decodeMessage(out);
  const out2 = new Uint8Array(encodedLengthMessage(again));
  encodeMessage(again, out2, 0);
  check(equalBytes(out, out2), 're-encoding is not a fixed point');
  if (m.type === MsgType.PACKET) {
    check(
      readPacketHeader(data, 0, data.length, view) === m.payloadOffset,
      'readPacketHeader payload offset',
    );
    check(view.srcMac === m.body.srcMac && view.dstMac === m.body.dstMac, 'readPacketHeader MACs');
  }
}
