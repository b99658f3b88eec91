// The Lab: namespaces, veth links, the "internet" bridge, hosts and NAT routers, its processes and their teardown.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cleanupLeftovers,
  listNamespaces,
  NETNS_ETC_DIR,
  newLabPrefix,
  removeNamespaceSync,
  trackLab,
  untrackLab,
} from './cleanup.js';
import { applyNat, type Firewall, NatKind, pickFirewall, WAN_IF } from './nat.js';
import { checkPrerequisites, describeMissing } from './prereq.js';
import {
  type ExecOptions,
  type ExecResult,
  killNow,
  LabError,
  type LabProcess,
  type NamespaceRunner,
  runCommand,
  type SpawnOptions,
  spawnInNamespace,
} from './processes.js';

/** Name of the bridge namespace that plays "the internet". */
const INTERNET = 'inet';
/** Bridge device inside the internet namespace. */
const INTERNET_BRIDGE = 'br0';
/** Bridge device inside a NAT router joining its LAN hosts. */
const LAN_BRIDGE = 'lanbr';
/** IPv4 multicast range, routed on-link on public hosts. */
const MULTICAST_NET = '224.0.0.0/4';
/** Prefix length of an address given without one. */
const HOST_PREFIX_BITS = 32;
/** Temporary veth names carry our pid modulo this, to stay within the 15-character interface name limit. */
const TMP_LINK_PID_MODULUS = 10_000;

export interface LabOptions {
  /** Progress messages (commands are not echoed). */
  log?: (line: string) => void;
  /** Install SIGINT/SIGTERM/exit handlers that tear the lab down (default true). */
  handleSignals?: boolean;
}

/** A host namespace as the lab knows it. */
export interface LabHost {
  /** Logical name given by the caller. */
  name: string;
  /** Real namespace name. */
  ns: string;
  /** Underlay IPv4 address (no prefix); empty on an IPv6-only host. */
  ip: string;
  /** Underlay IPv6 address (no prefix), when the host has one (publicHost with an IPv6 CIDR or `ipv6`). */
  ip6?: string;
}

export interface NatRouter extends LabHost {
  kind: NatKind;
  /** LAN-side gateway address (no prefix). */
  lanIp: string;
  /** LAN prefix length. */
  lanBits: number;
  /** Number of LAN hosts attached so far (used for unique interface names). */
  lanPorts: number;
}

/** Splits `a.b.c.d/nn` into address and prefix length. */
export function splitCidr(cidr: string): { ip: string; bits: number } {
  const [ip, bits] = cidr.split('/');
  return { ip, bits: bits === undefined ? HOST_PREFIX_BITS : Number(bits) };
}

/**
 * A set of namespaces, links and processes with one owner. Everything it creates carries a unique prefix
 * (`tsn2nlab-<pid>-<random>-`) and is removed by `destroy()`, on process exit and on SIGINT/SIGTERM.
 * Veth pairs are created directly inside their namespaces, so nothing ever appears in the root namespace.
 */
export class Lab implements NamespaceRunner {
  readonly prefix: string;
  private readonly log: (line: string) => void;
  private readonly namespaces: string[] = [];
  private readonly processes: LabProcess[] = [];
  private readonly hosts = new Map<string, LabHost>();
  private readonly firewall: Firewall;
  private linkCounter = 0;
  private destroyed = false;
  /** A temporary directory for the state files of the processes the lab starts (removed by destroy). */
  private readonly stateDir = mkdtempSync(join(tmpdir(), 'tsn2n-lab-state-'));
  private internetReady = false;
  private bridgeIpv6Ready = false;

  private constructor(prefix: string, log: (line: string) => void, firewall: Firewall) {
    this.prefix = prefix;
    this.log = log;
    this.firewall = firewall;
  }

  /** Checks for root and tools, removes leftovers of aborted runs and returns an empty lab. */
  static async create(opts: LabOptions = {}): Promise<Lab> {
    const pre = checkPrerequisites();
    const missing = describeMissing(pre);
    if (missing) throw new LabError(`the namespace lab ${missing}`);
    const removed = cleanupLeftovers();
    const log = opts.log ?? (() => {});
    if (removed.length > 0) log(`removed ${removed.length} namespace(s) left by an aborted run`);
    const lab = new Lab(newLabPrefix(), log, pickFirewall());
    trackLab(lab, opts.handleSignals !== false);
    return lab;
  }

  /** The real namespace name of a logical name. */
  nsName(name: string): string {
    return `${this.prefix}${name}`;
  }

  host(name: string): LabHost {
    const h = this.hosts.get(name);
    if (!h) throw new LabError(`no host ${name} in the lab`);
    return h;
  }

  router(name: string): NatRouter {
    const r = this.hosts.get(name);
    if (!r || !('kind' in r)) throw new LabError(`no NAT router ${name} in the lab`);
    return r as NatRouter;
  }

  /** Runs a command in the root namespace (e.g. `ip netns add`). */
  runRoot(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return runCommand(argv, opts);
  }

  /** Runs a command inside a namespace (given by its real name) and waits for it. */
  run(ns: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.runRoot(['ip', 'netns', 'exec', ns, ...argv], opts);
  }

  /** Runs a small Node.js script (CommonJS source) inside a namespace. */
  runNode(
    ns: string,
    script: string,
    args: readonly string[] = [],
    opts: ExecOptions = {},
  ): Promise<ExecResult> {
    return this.run(ns, [process.execPath, '-e', script, ...args], opts);
  }

  /** Starts a long-running process inside a namespace; it is stopped by `destroy()`. */
  spawn(name: string, ns: string, argv: readonly string[], opts: SpawnOptions = {}): LabProcess {
    if (this.destroyed) throw new LabError('lab already destroyed');
    // Edges started without --state-file keep their token in the lab's own directory (one per process name, so a
    // restarted process finds its own), never in the host's /var/lib/tsn2n.
    const env = { TSN2N_STATE_DIR: join(this.stateDir, name), ...opts.env };
    const p = spawnInNamespace(name, ns, argv, { ...opts, env });
    this.processes.push(p);
    return p;
  }
  /** Critical processes that exited although nobody stopped them (crashes, refused start-up). */
  crashed(): LabProcess[] {
    return this.processes.filter((p) => p.critical && !p.alive() && !p.stopRequested);
  }

  /** Throws LabError with the output of the first crashed critical process, if any. */
  assertNoCrash(): void {
    const dead = this.crashed()[0];
    if (dead)
      throw new LabError(
        `${dead.name} exited unexpectedly (code ${dead.exitCode}, signal ${dead.exitSignal}):\n${dead.tail()}`,
      );
  }

  /** Creates a namespace with loopback up; returns its real name. */
  async namespace(name: string): Promise<string> {
    const ns = this.nsName(name);
    this.namespaces.push(ns);
    await this.runRoot(['ip', 'netns', 'add', ns]);
    await this.run(ns, ['ip', 'link', 'set', 'lo', 'up']);
    // Answer ARP only for addresses of the receiving interface: a host must never answer for its TAP address on
    // the underlay (that would let overlay traffic bypass the tunnel while a peer's TAP is still coming up).
    await this.sysctl(ns, 'net.ipv4.conf.all.arp_ignore', '1', false);
    // Quiet, deterministic namespaces: no IPv6 router solicitations or DAD delays on the links we add.
    await this.sysctl(ns, 'net.ipv6.conf.all.disable_ipv6', '1', false);
    await this.sysctl(ns, 'net.ipv6.conf.default.disable_ipv6', '1', false);
    return ns;
  }

  /**
   * Sets a (per-namespace) net sysctl by writing /proc/sys inside the namespace, so procps' `sysctl` is not needed.
   * With `check` false a missing key (e.g. IPv6 disabled in the kernel) is ignored.
   */
  async sysctl(ns: string, key: string, value: string, check = true): Promise<void> {
    const path = `/proc/sys/${key.replaceAll('.', '/')}`;
    await this.run(ns, ['sh', '-c', 'echo "$1" > "$0"', path, value], { check });
  }

  /** A veth pair between two namespaces, both ends up. */
  async veth(nsA: string, ifA: string, nsB: string, ifB: string, mtu?: number): Promise<void> {
    // Create under a temporary unique name in A, then rename, so equal names in A and B never clash.
    const tmp = `lv${process.pid % TMP_LINK_PID_MODULUS}x${this.linkCounter++}`;
    await this.run(nsA, ['ip', 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', tmp, 'netns', nsB]);
    await this.run(nsB, ['ip', 'link', 'set', tmp, 'name', ifB]);
    for (const [ns, dev] of [
      [nsA, ifA],
      [nsB, ifB],
    ] as const) {
      if (mtu !== undefined) await this.run(ns, ['ip', 'link', 'set', dev, 'mtu', String(mtu)]);
      await this.run(ns, ['ip', 'link', 'set', dev, 'up']);
    }
  }

  async addAddress(ns: string, dev: string, cidr: string): Promise<void> {
    await this.run(ns, ['ip', 'addr', 'add', cidr, 'dev', dev]);
  }

  /** Creates the internet namespace with its bridge (idempotent). */
  async internet(mtu?: number): Promise<string> {
    const ns = this.nsName(INTERNET);
    if (this.internetReady) return ns;
    await this.namespace(INTERNET);
    await this.run(ns, ['ip', 'link', 'add', INTERNET_BRIDGE, 'type', 'bridge']);
    if (mtu !== undefined) await this.run(ns, ['ip', 'link', 'set', INTERNET_BRIDGE, 'mtu', String(mtu)]);
    await this.run(ns, ['ip', 'link', 'set', INTERNET_BRIDGE, 'up']);
    this.internetReady = true;
    return ns;
  }

  private async attachToBridge(
    brNs: string,
    bridge: string,
    ns: string,
    dev: string,
    mtu?: number,
  ): Promise<void> {
    const port = `p${this.linkCounter}`;
    await this.veth(ns, dev, brNs, port, mtu);
    await this.run(brNs, ['ip', 'link', 'set', port, 'master', bridge]);
  }

  /**
   * A host directly on the internet with a public address `cidr` on `eth0`: IPv4, or IPv6 (an IPv6-only host).
   * `ipv6` adds an IPv6 address to an IPv4 host (dual-stack).
   */
  async publicHost(name: string, cidr: string, opts: { mtu?: number; ipv6?: string } = {}): Promise<LabHost> {
    const inet = await this.internet(opts.mtu);
    const ns = await this.namespace(name);
    await this.attachToBridge(inet, INTERNET_BRIDGE, ns, 'eth0', opts.mtu);
    const v6Only = cidr.includes(':');
    if (!v6Only) await this.addAddress(ns, 'eth0', cidr);
    // Joining a multicast group (n2n's local discovery) needs a route for it, else ENODEV. Not a default route:
    // with one, traffic for an overlay address whose TAP is not up yet would leak onto the underlay, where the
    // peer's kernel answers ARP for its TAP address (arp_ignore=0), and a ping would "pass" without the tunnel.
    // An IPv6-only host has no IPv4 route at all, as in life: with one, its IPv4 multicast would leave eth0
    // with the TAP's address as source, and a peer would learn an overlay address as an underlay socket.
    if (!v6Only) await this.run(ns, ['ip', 'route', 'add', MULTICAST_NET, 'dev', 'eth0']);
    const h: LabHost = { name, ns, ip: v6Only ? '' : splitCidr(cidr).ip };
    const v6 = v6Only ? cidr : opts.ipv6;
    if (v6 !== undefined) await this.addIpv6(h, v6);
    this.hosts.set(name, h);
    return h;
  }

  /**
   * Gives a host's `eth0` an IPv6 address. Namespaces start with IPv6 off (see namespace()); it is turned on
   * for eth0 alone (a TAP made later stays IPv4), without router solicitations, and the address skips
   * duplicate address detection (`nodad`) so it is usable at once and tests do not wait or flake on DAD.
   */
  async addIpv6(host: LabHost, cidr: string): Promise<void> {
    await this.sysctl(host.ns, 'net.ipv6.conf.eth0.accept_ra', '0');
    await this.sysctl(host.ns, 'net.ipv6.conf.eth0.disable_ipv6', '0');
    await this.sysctl(host.ns, 'net.ipv6.conf.lo.disable_ipv6', '0');
    await this.run(host.ns, ['ip', '-6', 'addr', 'add', cidr, 'dev', 'eth0', 'nodad']);
    if (!this.bridgeIpv6Ready) {
      // Neighbour discovery goes to solicited-node multicast groups; with snooping on and no MLD querier on
      // the bridge, those frames could be held back. The internet bridge floods them instead.
      await this.run(this.nsName(INTERNET), [
        'ip',
        'link',
        'set',
        INTERNET_BRIDGE,
        'type',
        'bridge',
        'mcast_snooping',
        '0',
      ]);
      this.bridgeIpv6Ready = true;
    }
    host.ip6 = splitCidr(cidr).ip;
  }

  /**
   * Gives a host its own /etc/hosts (`ip netns exec` mounts /etc/netns/<ns>/hosts over /etc/hosts for every
   * process the lab starts there), e.g. a name with only an AAAA record. Removed with the namespace.
   */
  hostsFile(host: LabHost, lines: readonly string[]): void {
    const dir = join(NETNS_ETC_DIR, host.ns);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'hosts'), `127.0.0.1 localhost\n::1 localhost\n${lines.join('\n')}\n`);
  }

  /** Adds another public address on an existing public host (e.g. a second "ISP" address). */
  async addPublicAddress(host: LabHost, cidr: string): Promise<void> {
    await this.addAddress(host.ns, 'eth0', cidr);
  }

  /**
   * A NAT router: `wan0` on the internet with `publicCidr`, a LAN bridge with `lanCidr` (its own address on the
   * LAN), IPv4 forwarding and MASQUERADE of the given kind.
   */
  async natRouter(
    name: string,
    publicCidr: string,
    lanCidr: string,
    kind: NatKind = NatKind.OPEN,
  ): Promise<NatRouter> {
    const inet = await this.internet();
    const ns = await this.namespace(name);
    await this.attachToBridge(inet, INTERNET_BRIDGE, ns, WAN_IF);
    await this.addAddress(ns, WAN_IF, publicCidr);
    await this.run(ns, ['ip', 'link', 'add', LAN_BRIDGE, 'type', 'bridge']);
    await this.run(ns, ['ip', 'link', 'set', LAN_BRIDGE, 'up']);
    await this.addAddress(ns, LAN_BRIDGE, lanCidr);
    await this.sysctl(ns, 'net.ipv4.ip_forward', '1');
    await applyNat(this, ns, kind, this.firewall);
    const lan = splitCidr(lanCidr);
    const r: NatRouter = {
      name,
      ns,
      ip: splitCidr(publicCidr).ip,
      kind,
      lanIp: lan.ip,
      lanBits: lan.bits,
      lanPorts: 0,
    };
    this.hosts.set(name, r);
    return r;
  }

  /**
   * A host on a router's LAN: `eth0` with `cidr`, default route via the router. Several hosts may share a LAN.
   */
  async lanHost(name: string, router: NatRouter, cidr: string): Promise<LabHost> {
    const ns = await this.namespace(name);
    await this.plugIntoLan(ns, router, cidr);
    const h: LabHost = { name, ns, ip: splitCidr(cidr).ip };
    this.hosts.set(name, h);
    return h;
  }

  private async plugIntoLan(ns: string, router: NatRouter, cidr: string): Promise<void> {
    router.lanPorts++;
    await this.attachToBridge(router.ns, LAN_BRIDGE, ns, 'eth0');
    await this.addAddress(ns, 'eth0', cidr);
    await this.run(ns, ['ip', 'route', 'add', 'default', 'via', router.lanIp]);
  }

  /**
   * Moves a host to another network: unplugs `eth0` and plugs it into `router`'s LAN with `cidr`, or into the
   * internet with `cidr` when `router` is undefined. Processes keep running: their underlay address changes.
   */
  async moveHost(host: LabHost, router: NatRouter | undefined, cidr: string): Promise<void> {
    await this.run(host.ns, ['ip', 'link', 'del', 'eth0']);
    if (router) await this.plugIntoLan(host.ns, router, cidr);
    else {
      const inet = await this.internet();
      await this.attachToBridge(inet, INTERNET_BRIDGE, host.ns, 'eth0');
      await this.addAddress(host.ns, 'eth0', cidr);
      await this.run(host.ns, ['ip', 'route', 'add', MULTICAST_NET, 'dev', 'eth0']);
    }
    host.ip = splitCidr(cidr).ip;
  }

  /** Stops every process (SIGTERM, then SIGKILL) and deletes every namespace. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await Promise.all(this.processes.map((p) => p.stop().catch(() => {})));
    this.destroySync();
  }

  /** Synchronous teardown for exit and signal handlers: SIGKILL everything, delete namespaces. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.processes) if (p.alive()) killNow(p.pid);
    for (const ns of [...this.namespaces].reverse()) removeNamespaceSync(ns);
    rmSync(this.stateDir, { recursive: true, force: true });
    untrackLab(this);
  }

  /** Namespaces with this lab's prefix that still exist (empty after a successful teardown). */
  remaining(): string[] {
    return listNamespaces().filter((n) => n.startsWith(this.prefix));
  }
}
