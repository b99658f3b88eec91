// Automatic IP assignment (spec §9.4): a subnet per community from the `-a` range, an address per edge.
import { pearsonHash32 } from '../crypto/pearson.js';
import type { Community } from './community.js';

export interface AutoIpRange {
  min: number;
  max: number;
  bitlen: number;
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** Host part mask of a prefix (~mask as unsigned). */
function hostMask(bits: number): number {
  return ~maskOf(bits) >>> 0;
}

/**
 * sn_utils.c: subnet_available — true when [net, net + ~mask] overlaps no other community's subnet. The
 * arithmetic is unsigned 32-bit like C's, so a community without a subnet (0/0) overlaps everything.
 */
function subnetAvailable(comm: Community, all: Iterable<Community>, net: number, mask: number): boolean {
  const last = (net + (~mask >>> 0)) >>> 0;
  for (const c of all) {
    if (c === comm || c.isFederation) continue;
    const cLast = (c.netAddr + hostMask(c.netBits)) >>> 0;
    if (net <= cLast && last >= c.netAddr) return false;
  }
  return true;
}

/**
 * sn_utils.c: assign_one_ip_subnet. Proposal = min + (H32(community field) mod count) subnets; if taken,
 * search downwards to min, then upwards to max. Sets comm.netAddr/netBits (0/0 when nothing is free) and
 * returns true on success.
 */
export function assignCommunitySubnet(
  comm: Community,
  all: Iterable<Community>,
  range: AutoIpRange,
): boolean {
  const shift = 32 - range.bitlen;
  const mask = maskOf(range.bitlen);
  const count = Math.floor((range.max - range.min) / 2 ** shift) + 1;
  const step = 2 ** shift;
  const proposal = range.min + (pearsonHash32(comm.field) % count) * step;
  let found = -1;
  for (let net = proposal; net >= range.min; net -= step) {
    if (subnetAvailable(comm, all, net, mask)) {
      found = net;
      break;
    }
  }
  if (found < 0) {
    for (let net = proposal + step; net <= range.max; net += step) {
      if (subnetAvailable(comm, all, net, mask)) {
        found = net;
        break;
      }
    }
  }
  if (found < 0) {
    comm.netAddr = 0;
    comm.netBits = 0;
    return false;
  }
  comm.netAddr = found >>> 0;
  comm.netBits = range.bitlen;
  return true;
}

/**
 * sn_utils.c: assign_one_ip_addr. host = H32(desc, 16 bytes) AND hostmask (0 → 1, broadcast → broadcast − 1);
 * if an edge of the community uses it, search downwards, then upwards. Returns the address (u32) or 0 when
 * the community has no subnet or no free address.
 */
export function assignEdgeAddress(comm: Community, desc: Uint8Array): number {
  if (comm.netAddr === 0) return 0;
  const maxHost = hostMask(comm.netBits);
  const net = (comm.netAddr & maskOf(comm.netBits)) >>> 0;
  let host = pearsonHash32(desc, 0, desc.length) & maxHost;
  if (host === 0) host++;
  if (host === maxHost) host--;
  const proposal = (net | host) >>> 0;
  const used = comm.byAddr;
  for (let a = proposal; a > net; a--) if (!used.has(a)) return a;
  for (let a = proposal + 1; a < net + maxHost; a++) if (!used.has(a)) return a;
  return 0;
}

/** sn_utils.c: REGISTER_SUPER asks for an address when dev_addr is 0.0.0.0, 255.255.255.255, /0 or 169.254/16. */
export function wantsAutoIp(addr: number, bitlen: number): boolean {
  return addr === 0 || addr === 0xffffffff || bitlen === 0 || (addr & 0xffff0000) >>> 0 === 0xa9fe0000;
}
