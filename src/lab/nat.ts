// NAT models of the lab's routers: port-preserving (open) and symmetric (strict), with iptables or nft.
import { findExecutable } from './prereq.js';
import type { ExecResult, NamespaceRunner } from './processes.js';

/** Public-side interface name of a NAT router. */
export const WAN_IF = 'wan0';

/** NAT behaviour of a router namespace. */
export const NatKind = {
  /**
   * Port-preserving MASQUERADE (endpoint-independent mapping, port-restricted filtering), like a typical
   * home router: UDP hole punching works.
   */
  OPEN: 'open',
  /**
   * MASQUERADE with random ports for every new flow (symmetric mapping) and every unsolicited inbound packet
   * dropped: UDP hole punching cannot work, only the supernode relay does.
   */
  STRICT: 'strict',
} as const;
export type NatKind = (typeof NatKind)[keyof typeof NatKind];

/** Tool that programs the routers' netfilter rules. */
export const Firewall = {
  IPTABLES: 'iptables',
  NFT: 'nft',
} as const;
export type Firewall = (typeof Firewall)[keyof typeof Firewall];

/** iptables if installed, else nft (checkPrerequisites has made sure one of them is). */
export function pickFirewall(): Firewall {
  return findExecutable('iptables') ? Firewall.IPTABLES : Firewall.NFT;
}

/** Feeds a ruleset (argv[1]) to `nft -f -` and exits with nft's status. */
const NFT_LOAD_SCRIPT =
  "const r=require('child_process').spawnSync('nft',['-f','-'],{input:process.argv[1]});process.exit(r.status??1)";

/** Installs MASQUERADE of `kind` on WAN_IF in router namespace `ns` and drops unsolicited inbound traffic. */
export async function applyNat(
  lab: NamespaceRunner,
  ns: string,
  kind: NatKind,
  firewall: Firewall,
): Promise<void> {
  // Dropping NEW inbound at the router itself matters for hole punching too: an unsolicited packet that reached
  // INPUT would otherwise leave a conntrack entry that clashes with the router's own later outbound mapping to
  // that peer, and MASQUERADE would then pick another port.
  if (firewall === Firewall.IPTABLES) {
    const ipt = (args: string[]): Promise<ExecResult> => lab.run(ns, ['iptables', '-w', ...args]);
    await ipt([
      '-t',
      'nat',
      '-A',
      'POSTROUTING',
      '-o',
      WAN_IF,
      '-j',
      'MASQUERADE',
      ...(kind === NatKind.STRICT ? ['--random-fully'] : []),
    ]);
    await ipt([
      '-A',
      'INPUT',
      '-i',
      WAN_IF,
      '-m',
      'conntrack',
      '--ctstate',
      'ESTABLISHED,RELATED',
      '-j',
      'ACCEPT',
    ]);
    await ipt(['-A', 'INPUT', '-i', WAN_IF, '-j', 'DROP']);
    await ipt([
      '-A',
      'FORWARD',
      '-i',
      WAN_IF,
      '-m',
      'conntrack',
      '--ctstate',
      'ESTABLISHED,RELATED',
      '-j',
      'ACCEPT',
    ]);
    await ipt(['-A', 'FORWARD', '-i', WAN_IF, '-j', 'DROP']);
  } else {
    const masq = kind === NatKind.STRICT ? 'masquerade random,fully-random' : 'masquerade';
    const rules = [
      'table ip lab {',
      '  chain post { type nat hook postrouting priority 100; policy accept;',
      `    oifname "${WAN_IF}" ${masq} }`,
      '  chain input { type filter hook input priority 0; policy accept;',
      `    iifname "${WAN_IF}" ct state established,related accept`,
      `    iifname "${WAN_IF}" drop }`,
      '  chain fwd { type filter hook forward priority 0; policy accept;',
      `    iifname "${WAN_IF}" ct state established,related accept`,
      `    iifname "${WAN_IF}" drop }`,
      '}',
    ].join('\n');
    await lab.runNode(ns, NFT_LOAD_SCRIPT, [rules]);
  }
}
