// Network-namespace lab (demo, e2e suite, bench:tunnel): an "internet" bridge, NAT routers, hosts, probes, teardown.
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Every namespace we create starts with this, then the owner's pid, so a later run can tell ours from others. */
export const LAB_NS_PREFIX = 'tsn2nlab-';
/** Name of the bridge namespace that plays "the internet". */
const INTERNET = 'inet';
/** Bridge device inside the internet namespace. */
const INTERNET_BRIDGE = 'br0';
/** Bridge device inside a NAT router joining its LAN hosts. */
const LAN_BRIDGE = 'lanbr';
/** Public-side interface name of a NAT router. */
const WAN_IF = 'wan0';
/** Default timeout of a one-shot command run in a namespace. */
const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
/** Grace period between SIGTERM and SIGKILL when stopping a process. */
const STOP_GRACE_MS = 2_000;
/** Cap on the output kept per process, so a chatty process cannot eat memory. */
const MAX_KEPT_OUTPUT_CHARS = 1_000_000;
/** IPv4 multicast range, routed on-link on public hosts. */
const MULTICAST_NET = '224.0.0.0/4';
/** Exit status a shell reports for a process killed by SIGINT (128 + 2). */
const EXIT_SIGINT = 130;

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

export class LabError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabError';
  }
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Kill the command after this long (default 30 s). */
  timeoutMs?: number;
  /** Throw LabError on a non-zero exit (default true). */
  check?: boolean;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Called with every complete output line (stdout and stderr), e.g. to echo it. */
  onLine?: (line: string) => void;
  /**
   * A process the scenario depends on (edge, supernode): if it exits without `stop()`/`kill()`, waits such as
   * `waitForPing` fail at once with its output instead of running into their timeout.
   */
  critical?: boolean;
}

export interface LabOptions {
  /** Progress messages (commands are not echoed). */
  log?: (line: string) => void;
  /** Install SIGINT/SIGTERM/exit handlers that tear the lab down (default true). */
  handleSignals?: boolean;
}

/** A process started inside a namespace; its output is kept for assertions and for reports on failure. */
export class LabProcess {
  readonly name: string;
  readonly ns: string;
  readonly argv: readonly string[];
  readonly pid: number;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  exitCode: number | null = null;
  exitSignal: string | null = null;
  /** Set by stop()/kill(): an exit after this is expected. */
  stopRequested = false;
  critical = false;
  private out = '';
  private readonly child: ChildProcess;
  private readonly waiters = new Set<() => void>();

  constructor(
    name: string,
    ns: string,
    argv: readonly string[],
    child: ChildProcess,
    onLine?: (l: string) => void,
  ) {
    this.name = name;
    this.ns = ns;
    this.argv = argv;
    this.child = child;
    if (child.pid === undefined) throw new LabError(`${name}: could not start ${argv[0]}`);
    this.pid = child.pid;
    let partial = '';
    const onData = (chunk: Buffer): void => {
      const text = chunk.toString('utf8');
      this.out += text;
      if (this.out.length > MAX_KEPT_OUTPUT_CHARS) this.out = this.out.slice(-MAX_KEPT_OUTPUT_CHARS / 2);
      if (onLine) {
        partial += text;
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) onLine(l);
      }
      for (const w of this.waiters) w();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        for (const w of this.waiters) w();
        resolve({ code, signal });
      });
      child.on('error', (err) => {
        this.out += `\n[lab] spawn error: ${err.message}\n`;
      });
    });
  }

  /** Everything the process printed so far (stdout and stderr interleaved). */
  output(): string {
    return this.out;
  }

  alive(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  /** Waits until the output matches `re`; rejects on timeout or if the process exits first. */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = this.out.match(re);
        if (m) {
          done();
          resolve(m);
        } else if (!this.alive()) {
          done();
          reject(new LabError(`${this.name} exited before printing ${re}; output:\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new LabError(`${this.name}: no ${re} within ${timeoutMs} ms; output:\n${this.tail()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The last lines of output, for error messages. */
  tail(lines = 30): string {
    return this.out.split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM, then SIGKILL after the grace period. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopRequested = true;
    if (!this.alive()) return;
    this.child.kill(signal);
    const timer = setTimeout(() => {
      if (this.alive()) this.child.kill('SIGKILL');
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Immediate SIGKILL (for "the supernode crashed" scenarios). */
  async kill(): Promise<void> {
    this.stopRequested = true;
    if (!this.alive()) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** A host namespace as the lab knows it. */
export interface LabHost {
  /** Logical name given by the caller. */
  name: string;
  /** Real namespace name. */
  ns: string;
  /** Underlay IPv4 address (no prefix). */
  ip: string;
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

const liveLabs = new Set<Lab>();
let handlersInstalled = false;

function installProcessHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const lab of liveLabs) lab.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      for (const lab of liveLabs) lab.destroySync();
      process.exit(sig === 'SIGINT' ? EXIT_SIGINT : 1);
    });
  }
}

/** Finds an executable on PATH (also the sbin directories, which a non-root PATH may lack). */
export function findExecutable(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, fsConstants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface Prerequisites {
  root: boolean;
  /** Tools that are absent (`iptables` is listed only if neither iptables nor nft exists). */
  missing: string[];
  tun: boolean;
}

/** Checks what the lab needs; `wanted` may add optional tools such as `iperf3`. */
export function checkPrerequisites(wanted: readonly string[] = []): Prerequisites {
  const missing: string[] = [];
  for (const tool of ['ip', 'ping', ...wanted]) if (!findExecutable(tool)) missing.push(tool);
  if (!findExecutable('iptables') && !findExecutable('nft')) missing.push('iptables');
  let tun = true;
  try {
    accessSync('/dev/net/tun', fsConstants.R_OK | fsConstants.W_OK);
  } catch {
    tun = false;
  }
  return { root: typeof process.getuid === 'function' && process.getuid() === 0, missing, tun };
}

/** One line saying what is missing, or undefined when everything is there. */
export function describeMissing(p: Prerequisites): string | undefined {
  const parts: string[] = [];
  if (!p.root)
    parts.push('root (run with sudo: network namespaces, veth and TAP devices need CAP_NET_ADMIN)');
  if (p.missing.length > 0)
    parts.push(
      `the tools ${p.missing.join(', ')} (Debian/Ubuntu: apt-get install iproute2 iptables iperf3 iputils-ping)`,
    );
  if (!p.tun) parts.push('/dev/net/tun');
  return parts.length > 0 ? `needs ${parts.join('; ')}` : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listNamespaces(): string[] {
  try {
    const out = execFileSync('ip', ['netns', 'list'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out
      .split('\n')
      .map((l) => l.split(' ')[0])
      .filter((n) => n.length > 0);
  } catch {
    return [];
  }
}

/** Kills every process inside a namespace and deletes it; never throws. */
function removeNamespaceSync(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const p of pids.split('\n')) {
      const pid = Number(p);
      if (pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  } catch {
    // namespace already gone
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/**
 * Removes namespaces left behind by lab runs whose owner process no longer exists (aborted runs).
 * Namespaces of labs still running (parallel runs) are left alone. Returns the names removed.
 */
export function cleanupLeftovers(): string[] {
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    if (!ns.startsWith(LAB_NS_PREFIX)) continue;
    const owner = Number(ns.slice(LAB_NS_PREFIX.length).split('-')[0]);
    if (owner > 0 && pidAlive(owner)) continue;
    removeNamespaceSync(ns);
    removed.push(ns);
  }
  return removed;
}

function execAsync(argv: readonly string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(
      argv[0],
      argv.slice(1),
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: string }) | null;
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr: e && typeof e.code !== 'number' && !e.signal ? `${stderr}${e.message}` : stderr,
        });
      },
    );
  });
}

/** Splits `a.b.c.d/nn` into address and prefix length. */
export function splitCidr(cidr: string): { ip: string; bits: number } {
  const [ip, bits] = cidr.split('/');
  return { ip, bits: bits === undefined ? 32 : Number(bits) };
}

/**
 * A set of namespaces, links and processes with one owner. Everything it creates carries a unique prefix
 * (`tsn2nlab-<pid>-<random>-`) and is removed by `destroy()`, on process exit and on SIGINT/SIGTERM.
 * Veth pairs are created directly inside their namespaces, so nothing ever appears in the root namespace.
 */
export class Lab {
  readonly prefix: string;
  private readonly log: (line: string) => void;
  private readonly namespaces: string[] = [];
  private readonly processes: LabProcess[] = [];
  private readonly hosts = new Map<string, LabHost>();
  private firewall: 'iptables' | 'nft' = 'iptables';
  private linkCounter = 0;
  private destroyed = false;
  private internetReady = false;

  private constructor(prefix: string, log: (line: string) => void) {
    this.prefix = prefix;
    this.log = log;
  }

  /** Checks for root and tools, removes leftovers of aborted runs and returns an empty lab. */
  static async create(opts: LabOptions = {}): Promise<Lab> {
    const pre = checkPrerequisites();
    const missing = describeMissing(pre);
    if (missing) throw new LabError(`the namespace lab ${missing}`);
    const removed = cleanupLeftovers();
    const log = opts.log ?? (() => {});
    if (removed.length > 0) log(`removed ${removed.length} namespace(s) left by an aborted run`);
    const rand = Math.floor(Math.random() * 0xffff)
      .toString(16)
      .padStart(4, '0');
    const lab = new Lab(`${LAB_NS_PREFIX}${process.pid}-${rand}-`, log);
    lab.firewall = findExecutable('iptables') ? 'iptables' : 'nft';
    liveLabs.add(lab);
    if (opts.handleSignals !== false) installProcessHandlers();
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
  async runRoot(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await execAsync(argv, opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS);
    if ((opts.check ?? true) && r.code !== 0)
      throw new LabError(`${argv.join(' ')} failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
    return r;
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
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...opts.env },
    });
    const p = new LabProcess(name, ns, argv, child, opts.onLine);
    p.critical = opts.critical ?? false;
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
    const tmp = `lv${process.pid % 10000}x${this.linkCounter++}`;
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

  /** A host directly on the internet with a public address `cidr` on `eth0`. */
  async publicHost(name: string, cidr: string, opts: { mtu?: number } = {}): Promise<LabHost> {
    const inet = await this.internet(opts.mtu);
    const ns = await this.namespace(name);
    await this.attachToBridge(inet, INTERNET_BRIDGE, ns, 'eth0', opts.mtu);
    await this.addAddress(ns, 'eth0', cidr);
    // Joining a multicast group (n2n's local discovery) needs a route for it, else ENODEV. Not a default route:
    // with one, traffic for an overlay address whose TAP is not up yet would leak onto the underlay, where the
    // peer's kernel answers ARP for its TAP address (arp_ignore=0), and a ping would "pass" without the tunnel.
    await this.run(ns, ['ip', 'route', 'add', MULTICAST_NET, 'dev', 'eth0']);
    const h: LabHost = { name, ns, ip: splitCidr(cidr).ip };
    this.hosts.set(name, h);
    return h;
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
    await this.applyNat(ns, kind);
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

  private async applyNat(ns: string, kind: NatKind): Promise<void> {
    // Dropping NEW inbound at the router itself matters for hole punching too: an unsolicited packet that reached
    // INPUT would otherwise leave a conntrack entry that clashes with the router's own later outbound mapping to
    // that peer, and MASQUERADE would then pick another port.
    if (this.firewall === 'iptables') {
      const ipt = (args: string[]): Promise<ExecResult> => this.run(ns, ['iptables', '-w', ...args]);
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
      await this.runNode(
        ns,
        "const r=require('child_process').spawnSync('nft',['-f','-'],{input:process.argv[1]});process.exit(r.status??1)",
        [rules],
      );
    }
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
    for (const p of this.processes) {
      if (p.alive()) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const ns of [...this.namespaces].reverse()) removeNamespaceSync(ns);
    liveLabs.delete(this);
  }

  /** Namespaces with this lab's prefix that still exist (empty after a successful teardown). */
  remaining(): string[] {
    return listNamespaces().filter((n) => n.startsWith(this.prefix));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Traffic probes. Every probe runs real tools (ping, iperf3) or a small Node.js script inside a namespace.

export interface PingResult {
  transmitted: number;
  received: number;
  /** Average RTT in ms (NaN if nothing came back). */
  avgMs: number;
  minMs: number;
  maxMs: number;
  output: string;
}

/** Parses the summary of iputils `ping`. */
export function parsePing(output: string): PingResult {
  const counts = output.match(/(\d+) packets transmitted, (\d+) (?:packets )?received/);
  const rtt = output.match(/= ([\d.]+)\/([\d.]+)\/([\d.]+)/);
  return {
    transmitted: counts ? Number(counts[1]) : 0,
    received: counts ? Number(counts[2]) : 0,
    minMs: rtt ? Number(rtt[1]) : Number.NaN,
    avgMs: rtt ? Number(rtt[2]) : Number.NaN,
    maxMs: rtt ? Number(rtt[3]) : Number.NaN,
    output,
  };
}

export interface PingOptions {
  count?: number;
  /** Seconds between probes (values below 0.2 need root, which the lab has). */
  intervalS?: number;
  /** Seconds to wait for each reply. */
  waitS?: number;
  /** ICMP payload bytes. */
  size?: number;
}

export async function ping(
  lab: Lab,
  ns: string,
  target: string,
  opts: PingOptions = {},
): Promise<PingResult> {
  const count = opts.count ?? 3;
  const interval = opts.intervalS ?? 0.2;
  const wait = opts.waitS ?? 1;
  const args = ['ping', '-n', '-c', String(count), '-i', String(interval), '-W', String(wait)];
  if (opts.size !== undefined) args.push('-s', String(opts.size));
  args.push(target);
  const budgetMs = (count * interval + wait + 5) * 1000;
  const r = await lab.run(ns, args, { check: false, timeoutMs: budgetMs });
  return parsePing(r.stdout + r.stderr);
}

/**
 * Pings once per `intervalMs` until a reply comes back; returns the seconds it took, or undefined on timeout.
 * Throws at once if a critical lab process has crashed.
 */
export async function waitForPing(
  lab: Lab,
  ns: string,
  target: string,
  timeoutS: number,
  intervalMs = 500,
): Promise<number | undefined> {
  const t0 = performance.now();
  while ((performance.now() - t0) / 1000 < timeoutS) {
    lab.assertNoCrash();
    const r = await ping(lab, ns, target, { count: 1, waitS: 1 });
    if (r.received > 0) return (performance.now() - t0) / 1000;
    await sleep(intervalMs);
  }
  return undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a truthy value or the timeout passes. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
  stepMs = 250,
): Promise<T | undefined> {
  const t0 = performance.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() - t0 > timeoutMs) return undefined;
    await sleep(stepMs);
  }
}

// Receiver: accepts one connection, hashes everything, prints one JSON line. Timing runs from the first byte.
const TCP_SINK_SCRIPT = `
const net=require('net'),crypto=require('crypto');
const [host,port]=[process.argv[1],Number(process.argv[2])];
const srv=net.createServer((s)=>{const h=crypto.createHash('sha256');let n=0,t0=0;
s.on('data',(d)=>{if(!t0)t0=performance.now();n+=d.length;h.update(d)});
s.on('end',()=>{const ms=performance.now()-t0;process.stdout.write(JSON.stringify({bytes:n,sha256:h.digest('hex'),ms})+'\\n');s.end();srv.close()});
s.on('error',(e)=>{process.stdout.write(JSON.stringify({error:e.message})+'\\n');process.exit(1)})});
srv.listen(port,host,()=>process.stdout.write('listening\\n'));`;

// Sender: streams random bytes with back-pressure, prints the hash of what it sent.
const TCP_SOURCE_SCRIPT = `
const net=require('net'),crypto=require('crypto');
const [host,port,total]=[process.argv[1],Number(process.argv[2]),Number(process.argv[3])];
const h=crypto.createHash('sha256');const CHUNK=65536;let left=total;const t0=performance.now();
const s=net.connect(port,host,()=>{const pump=()=>{while(left>0){const b=crypto.randomBytes(Math.min(CHUNK,left));left-=b.length;h.update(b);if(!s.write(b)){s.once('drain',pump);return}}s.end()};pump()});
s.on('close',()=>process.stdout.write(JSON.stringify({bytes:total,sha256:h.digest('hex'),ms:performance.now()-t0})+'\\n'));
s.on('error',(e)=>{process.stdout.write(JSON.stringify({error:e.message})+'\\n');process.exit(1)});`;

export interface TransferResult {
  ok: boolean;
  bytes: number;
  receivedBytes: number;
  sentSha256: string;
  receivedSha256: string;
  seconds: number;
  mbitPerS: number;
  error?: string;
}

/** Sends `bytes` random bytes over TCP from `fromNs` to `toIp` (inside `toNs`) and compares SHA-256 on both ends. */
export async function tcpTransfer(
  lab: Lab,
  fromNs: string,
  toNs: string,
  toIp: string,
  bytes: number,
  opts: { port?: number; timeoutMs?: number } = {},
): Promise<TransferResult> {
  const port = String(opts.port ?? 5201);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const sink = lab.spawn('tcp-sink', toNs, [process.execPath, '-e', TCP_SINK_SCRIPT, toIp, port]);
  try {
    await sink.waitForOutput(/listening/, 10_000);
    const src = await lab.runNode(fromNs, TCP_SOURCE_SCRIPT, [toIp, port, String(bytes)], {
      check: false,
      timeoutMs,
    });
    const sinkLine = await sink
      .waitForOutput(/\{.*\}\n/, 10_000)
      .then((m) => m[0])
      .catch(() => '{}');
    const sent = JSON.parse(src.stdout.trim().split('\n').pop() || '{}') as {
      sha256?: string;
      error?: string;
    };
    const recv = JSON.parse(sinkLine) as { bytes?: number; sha256?: string; ms?: number; error?: string };
    const seconds = (recv.ms ?? Number.NaN) / 1000;
    const receivedBytes = recv.bytes ?? 0;
    const error =
      sent.error ?? recv.error ?? (src.code !== 0 ? `sender exit ${src.code}: ${src.stderr}` : undefined);
    return {
      ok: !error && receivedBytes === bytes && sent.sha256 === recv.sha256,
      bytes,
      receivedBytes,
      sentSha256: sent.sha256 ?? '',
      receivedSha256: recv.sha256 ?? '',
      seconds,
      mbitPerS: (receivedBytes * 8) / 1e6 / seconds,
      error,
    };
  } finally {
    await sink.stop();
  }
}

export interface IperfResult {
  ok: boolean;
  mbitPerS: number;
  retransmits: number;
  seconds: number;
  error?: string;
}

/** iperf3 TCP from `fromNs` to a one-shot server at `toIp` in `toNs`. */
export async function iperf3(
  lab: Lab,
  fromNs: string,
  toNs: string,
  toIp: string,
  seconds: number,
  opts: { port?: number } = {},
): Promise<IperfResult> {
  const port = String(opts.port ?? 5202);
  const server = lab.spawn('iperf3-server', toNs, ['iperf3', '-s', '-1', '-B', toIp, '-p', port]);
  try {
    // iperf3 block-buffers its banner when stdout is a pipe, so look for the listening socket instead.
    const listening = await waitFor(
      async () => {
        if (!server.alive()) return undefined;
        const r = await lab.run(toNs, ['ss', '-Hltn', `sport = :${port}`], { check: false });
        return r.stdout.includes(`:${port}`) ? true : undefined;
      },
      10_000,
      100,
    );
    if (!listening)
      return {
        ok: false,
        mbitPerS: 0,
        retransmits: 0,
        seconds: 0,
        error: `iperf3 server did not start: ${server.tail()}`,
      };
    const r = await lab.run(fromNs, ['iperf3', '-c', toIp, '-p', port, '-t', String(seconds), '-J'], {
      check: false,
      timeoutMs: (seconds + 30) * 1000,
    });
    try {
      const j = JSON.parse(r.stdout) as {
        error?: string;
        end?: {
          sum_received?: { bits_per_second: number; seconds: number };
          sum_sent?: { retransmits?: number };
        };
      };
      if (j.error || !j.end?.sum_received)
        return { ok: false, mbitPerS: 0, retransmits: 0, seconds: 0, error: j.error };
      return {
        ok: true,
        mbitPerS: j.end.sum_received.bits_per_second / 1e6,
        retransmits: j.end.sum_sent?.retransmits ?? 0,
        seconds: j.end.sum_received.seconds,
      };
    } catch {
      return {
        ok: false,
        mbitPerS: 0,
        retransmits: 0,
        seconds: 0,
        error: `${r.stdout}${r.stderr}`.slice(0, 500),
      };
    }
  } finally {
    await server.stop();
  }
}

/**
 * Receive buffer of the management query socket: n2n sends all rows of a reply in one burst (one datagram per
 * row), and with hundreds of edges the default 208 KiB buffer overflows (each datagram costs ~1 KiB of skb).
 */
const MGMT_RCVBUF_BYTES = 4 * 1024 * 1024;

// Sends one request to a management port on 127.0.0.1 and prints the reply datagrams as one JSON array of strings.
// For JSON requests it stops at the "end" or "error" row; for text requests when the port goes quiet.
const MGMT_QUERY_SCRIPT = `
const dgram=require('dgram');const [port,req,quietMs]=[Number(process.argv[1]),process.argv[2],Number(process.argv[3])];
const s=dgram.createSocket({type:'udp4',recvBufferSize:${MGMT_RCVBUF_BYTES}});const out=[];let t;
let done=false;const finish=()=>{if(done)return;done=true;clearTimeout(t);process.stdout.write(JSON.stringify(out)+'\\n');s.close()};
const arm=(ms)=>{clearTimeout(t);t=setTimeout(finish,ms)};
s.on('message',(m)=>{const txt=m.toString('utf8');out.push(txt);if(/"_type":"(end|error)"/.test(txt))return finish();arm(quietMs)});
s.bind(0,'127.0.0.1',()=>{s.send(req,port,'127.0.0.1');arm(2000)});`;

/** Raw reply datagrams of a management request made inside `ns`. */
export async function mgmtRaw(
  lab: Lab,
  ns: string,
  port: number,
  request: string,
  quietMs = 300,
): Promise<string[]> {
  const r = await lab.runNode(ns, MGMT_QUERY_SCRIPT, [String(port), request, String(quietMs)], {
    check: false,
  });
  try {
    return JSON.parse(r.stdout.trim()) as string[];
  } catch {
    return [];
  }
}

/**
 * JSON objects in management replies: normally one per datagram, but 3.1.1 breaks some rows over several lines
 * inside the datagram, and a datagram might carry several objects one per line.
 */
export function parseJsonDatagrams(datagrams: readonly string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const d of datagrams) {
    let pending = '';
    for (const line of d.split('\n')) {
      pending += line;
      if (!pending.trim()) continue;
      try {
        out.push(JSON.parse(pending) as Record<string, unknown>);
        pending = '';
      } catch {
        // incomplete: keep collecting lines
      }
    }
  }
  return out;
}

/** Rows of a JSON management read (`r <tag> <cmd>`); throws LabError on no answer or an error row. */
export async function mgmtRead(
  lab: Lab,
  ns: string,
  port: number,
  cmd: string,
): Promise<Record<string, unknown>[]> {
  const tag = String(Math.floor(Math.random() * 1000));
  const replies = await mgmtRaw(lab, ns, port, `r ${tag} ${cmd}`);
  const rows: Record<string, unknown>[] = [];
  let ended = false;
  for (const o of parseJsonDatagrams(replies)) {
    if (o._type === 'error')
      throw new LabError(`management ${cmd} on port ${port}: error ${String(o.error)}`);
    if (o._type === 'row') rows.push(o);
    if (o._type === 'end') ended = true;
  }
  if (!ended)
    throw new LabError(`management ${cmd} on port ${port}: no complete answer (${replies.length} datagrams)`);
  return rows;
}

export interface ProcStats {
  /** user + system CPU time in seconds. */
  cpuS: number;
  /** Resident set size in KiB. */
  rssKiB: number;
  /** Peak resident set size in KiB. */
  hwmKiB: number;
}

/** Kernel clock ticks per second (USER_HZ), the unit of utime/stime in /proc/<pid>/stat. */
let clockTicksPerS: number | undefined;

function ticksPerSecond(): number {
  if (clockTicksPerS === undefined) {
    try {
      clockTicksPerS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicksPerS = 100; // USER_HZ on every mainstream Linux build
    }
  }
  return clockTicksPerS;
}

/** CPU time and memory of a process, from /proc (root namespace view; pids are global). */
export function procStats(pid: number): ProcStats | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 of the whole line.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = status.match(/VmRSS:\s+(\d+)/);
    const hwm = status.match(/VmHWM:\s+(\d+)/);
    return {
      cpuS: ticks / ticksPerSecond(),
      rssKiB: rss ? Number(rss[1]) : 0,
      hwmKiB: hwm ? Number(hwm[1]) : 0,
    };
  } catch {
    return undefined;
  }
}
