// `-R` traffic rules: parsing the n2n rule syntax and judging Ethernet frames against the rules, allocation-free.
import { ConfigError } from '../util/errors.js';
import { ipv4ToNumber, numberToIpv4, prefixToMask } from '../util/ip.js';

/** What a rule says for one protocol: not configured (the rule does not apply), drop, or accept. */
export const RuleVerdict = { UNSET: -1, DROP: 0, ACCEPT: 1 } as const;
export type RuleVerdict = (typeof RuleVerdict)[keyof typeof RuleVerdict];

/** One parsed `-R` rule (network_traffic_filter.c: filter_rule_t). Addresses are u32, ports inclusive. */
export interface TrafficRule {
  srcNet: number;
  srcBits: number;
  srcPortFrom: number;
  srcPortTo: number;
  dstNet: number;
  dstBits: number;
  dstPortFrom: number;
  dstPortTo: number;
  tcp: RuleVerdict;
  udp: RuleVerdict;
  icmp: RuleVerdict;
}

const MAX_PORT = 65535;
const MAX_BITS = 32;
const ETH_HEADER_BYTES = 14;
const ETHERTYPE_OFFSET = 12;
const ETHERTYPE_IPV4 = 0x0800;
/** Bytes of an IPv4 header without options; also where its addresses end. */
const IPV4_MIN_HEADER_BYTES = 20;
const IPV4_PROTO_OFFSET = 9;
const IPV4_SRC_OFFSET = 12;
const IPV4_DST_OFFSET = 16;
/** TCP/UDP source and destination port: 4 bytes at the start of the transport header. */
const PORTS_BYTES = 4;
const PROTO_ICMP = 1;
const PROTO_TCP = 6;
const PROTO_UDP = 17;

// One endpoint: `a.b.c.d[/bits][:port|:[from,to]]`.
const ENDPOINT = /^(\d{1,3}(?:\.\d{1,3}){3})(?:\/(\d{1,2}))?(?::(?:(\d{1,5})|\[(\d{1,5}),(\d{1,5})\]))?$/;
const PROTO = /^(TCP|UDP|ICMP)([+-])$/;

interface Endpoint {
  net: number;
  bits: number;
  from: number;
  to: number;
}

function parseEndpoint(text: string, rule: string): Endpoint {
  const m = ENDPOINT.exec(text);
  if (!m) throw new ConfigError(`-R: invalid rule '${rule}': bad address part '${text}'`);
  let net: number;
  try {
    net = ipv4ToNumber(m[1]);
  } catch {
    throw new ConfigError(`-R: invalid rule '${rule}': bad IPv4 address '${m[1]}'`);
  }
  // network_traffic_filter.c: a network without '/len' is a single host.
  const bits = m[2] === undefined ? MAX_BITS : Number(m[2]);
  if (bits > MAX_BITS) throw new ConfigError(`-R: invalid rule '${rule}': prefix /${bits} is larger than 32`);
  let from = 0;
  let to = MAX_PORT;
  if (m[3] !== undefined) {
    from = Number(m[3]);
    to = from;
  } else if (m[4] !== undefined) {
    from = Number(m[4]);
    to = Number(m[5]);
  }
  if (from > MAX_PORT || to > MAX_PORT || from > to) {
    throw new ConfigError(`-R: invalid rule '${rule}': bad port range in '${text}'`);
  }
  return { net, bits, from, to };
}

/** Splits at top-level commas (commas inside `[a,b]` port ranges belong to the range). */
function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '[') depth++;
    else if (c === ']') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/**
 * Parses `src_ip[/len][:port|:[from,to]],dst_ip[/len][:port|:[from,to]][,TCP±][,UDP±][,ICMP±]`
 * (edge.8, network_traffic_filter.c: process_traffic_filter_rule_str). Throws ConfigError naming `-R`.
 */
export function parseTrafficRule(text: string): TrafficRule {
  const s = text.trim();
  const parts = splitTopLevel(s);
  if (parts.length < 2)
    throw new ConfigError(`-R: invalid rule '${text}': expected 'src,dst[,TCP±,UDP±,ICMP±]'`);
  const src = parseEndpoint(parts[0], text);
  const dst = parseEndpoint(parts[1], text);
  const rule: TrafficRule = {
    srcNet: (src.net & prefixToMask(src.bits)) >>> 0,
    srcBits: src.bits,
    srcPortFrom: src.from,
    srcPortTo: src.to,
    dstNet: (dst.net & prefixToMask(dst.bits)) >>> 0,
    dstBits: dst.bits,
    dstPortFrom: dst.from,
    dstPortTo: dst.to,
    tcp: RuleVerdict.UNSET,
    udp: RuleVerdict.UNSET,
    icmp: RuleVerdict.UNSET,
  };
  for (let i = 2; i < parts.length; i++) {
    const m = PROTO.exec(parts[i].trim());
    if (!m) throw new ConfigError(`-R: invalid rule '${text}': '${parts[i]}' is not TCP±, UDP± or ICMP±`);
    const v = m[2] === '+' ? RuleVerdict.ACCEPT : RuleVerdict.DROP;
    if (m[1] === 'TCP') rule.tcp = v;
    else if (m[1] === 'UDP') rule.udp = v;
    else rule.icmp = v;
  }
  return rule;
}

/** The rule in n2n's own notation (network_traffic_filter.c: get_filter_rule_info_log_string). */
export function trafficRuleToString(r: TrafficRule): string {
  let s =
    `${numberToIpv4(r.srcNet)}/${r.srcBits}:[${r.srcPortFrom},${r.srcPortTo}],` +
    `${numberToIpv4(r.dstNet)}/${r.dstBits}:[${r.dstPortFrom},${r.dstPortTo}]`;
  if (r.tcp !== RuleVerdict.UNSET) s += `,TCP${r.tcp === RuleVerdict.ACCEPT ? '+' : '-'}`;
  if (r.udp !== RuleVerdict.UNSET) s += `,UDP${r.udp === RuleVerdict.ACCEPT ? '+' : '-'}`;
  if (r.icmp !== RuleVerdict.UNSET) s += `,ICMP${r.icmp === RuleVerdict.ACCEPT ? '+' : '-'}`;
  return s;
}

/** Score of a prefix match as n2n ranks them: bits + 1, so 0.0.0.0/0 still scores 1; 0 = no match. */
function prefixScore(net: number, bits: number, ip: number): number {
  return (ip & prefixToMask(bits)) >>> 0 === net ? bits + 1 : 0;
}

/**
 * Judges frames against a rule list. Only IPv4 TCP, UDP and ICMP can match a rule; everything else (ARP, IPv6,
 * IGMP, …) and frames no rule matches are accepted. When several rules match, the one with the largest
 * src + dst prefix lengths wins; on a tie the rule given first (network_traffic_filter.c: get_filter_rule).
 */
export class TrafficFilter {
  readonly rules: readonly TrafficRule[];

  constructor(rules: readonly TrafficRule[]) {
    this.rules = rules;
  }

  /** True to pass the Ethernet frame `buf[off, off+len)`, false to drop it. */
  accepts(buf: Uint8Array, off: number, len: number): boolean {
    if (this.rules.length === 0 || len < ETH_HEADER_BYTES + IPV4_MIN_HEADER_BYTES) return true;
    if (((buf[off + ETHERTYPE_OFFSET] << 8) | buf[off + ETHERTYPE_OFFSET + 1]) !== ETHERTYPE_IPV4)
      return true;
    const ip = off + ETH_HEADER_BYTES;
    if (buf[ip] >>> 4 !== 4) return true;
    const proto = buf[ip + IPV4_PROTO_OFFSET];
    if (proto !== PROTO_TCP && proto !== PROTO_UDP && proto !== PROTO_ICMP) return true;
    const src =
      ((buf[ip + IPV4_SRC_OFFSET] << 24) |
        (buf[ip + IPV4_SRC_OFFSET + 1] << 16) |
        (buf[ip + IPV4_SRC_OFFSET + 2] << 8) |
        buf[ip + IPV4_SRC_OFFSET + 3]) >>>
      0;
    const dst =
      ((buf[ip + IPV4_DST_OFFSET] << 24) |
        (buf[ip + IPV4_DST_OFFSET + 1] << 16) |
        (buf[ip + IPV4_DST_OFFSET + 2] << 8) |
        buf[ip + IPV4_DST_OFFSET + 3]) >>>
      0;
    let sport = 0;
    let dport = 0;
    if (proto !== PROTO_ICMP) {
      const t = ip + (buf[ip] & 0x0f) * 4;
      // A truncated transport header reads as ports 0 rather than past the frame.
      if (t + PORTS_BYTES <= off + len) {
        sport = (buf[t] << 8) | buf[t + 1];
        dport = (buf[t + 2] << 8) | buf[t + 3];
      }
    }
    let best = 0;
    let verdict: number = RuleVerdict.UNSET;
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i];
      const v = proto === PROTO_TCP ? r.tcp : proto === PROTO_UDP ? r.udp : r.icmp;
      if (v === RuleVerdict.UNSET) continue;
      if (
        proto !== PROTO_ICMP &&
        (sport < r.srcPortFrom || sport > r.srcPortTo || dport < r.dstPortFrom || dport > r.dstPortTo)
      ) {
        continue;
      }
      const s = prefixScore(r.srcNet, r.srcBits, src);
      if (s === 0) continue;
      const d = prefixScore(r.dstNet, r.dstBits, dst);
      if (d === 0) continue;
      if (s + d > best) {
        best = s + d;
        verdict = v;
      }
    }
    return verdict !== RuleVerdict.DROP;
  }
}
