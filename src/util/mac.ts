// MAC addresses as 48-bit numbers (exact in a double, cheap Map keys) and their text form.
import { ConfigError } from './errors.js';

export type Mac = number;

const TWO_POW_32 = 0x1_0000_0000;
const TWO_POW_40 = 0x100_0000_0000;

export const NULL_MAC: Mac = 0;
export const BROADCAST_MAC: Mac = 0xffff_ffff_ffff;

export function writeMac(buf: Uint8Array, off: number, mac: Mac): number {
  const hi = Math.floor(mac / TWO_POW_32);
  const lo = mac >>> 0;
  buf[off] = (hi >>> 8) & 0xff;
  buf[off + 1] = hi & 0xff;
  buf[off + 2] = (lo >>> 24) & 0xff;
  buf[off + 3] = (lo >>> 16) & 0xff;
  buf[off + 4] = (lo >>> 8) & 0xff;
  buf[off + 5] = lo & 0xff;
  return off + 6;
}

export function readMac(buf: Uint8Array, off: number): Mac {
  return (
    (buf[off] * 0x10000 + ((buf[off + 1] << 8) | buf[off + 2])) * 0x1000000 +
    ((buf[off + 3] << 16) | (buf[off + 4] << 8) | buf[off + 5])
  );
}

/** Group bit of the first octet: broadcast and multicast. */
export function isMulticastMac(mac: Mac): boolean {
  return (Math.floor(mac / TWO_POW_40) & 1) === 1;
}

/** n2n's own multicast test (sn_utils.c / edge_utils.c): ff:ff:ff:ff:ff:ff, 01:00:5e:00-7f:xx:xx, 33:33:xx:xx:xx:xx. */
export function isN2nMulticastOrBroadcast(mac: Mac): boolean {
  if (mac === BROADCAST_MAC) return true;
  const top24 = Math.floor(mac / 0x100_0000);
  if (top24 === 0x01005e) return (mac & 0x800000) === 0;
  return Math.floor(mac / TWO_POW_32) === 0x3333;
}

export function macToString(mac: Mac): string {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + b[i].toString(16).padStart(2, '0');
  return s;
}

export function parseMac(s: string): Mac {
  const m =
    /^([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})[:-]([0-9a-fA-F]{1,2})$/.exec(
      s.trim(),
    );
  if (!m) throw new ConfigError(`invalid MAC address '${s}' (expected aa:bb:cc:dd:ee:ff)`);
  let v = 0;
  for (let i = 1; i <= 6; i++) v = v * 256 + Number.parseInt(m[i], 16);
  return v;
}

export function macToBytes(mac: Mac): Uint8Array {
  const b = new Uint8Array(6);
  writeMac(b, 0, mac);
  return b;
}
