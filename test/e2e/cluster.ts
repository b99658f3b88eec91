// The simulated Kubernetes cluster of kubernetes.test.ts: nodes with tsn2n edges, pods, VXLAN/IPIP, BIRD over the overlay, firewalls.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Lab,
  type LabHost,
  type LabProcess,
  mgmtRead,
  ping,
  waitFor,
  waitForPing,
} from '../../src/lab/index.js';
import {
  EDGE_MGMT_PORT,
  edgeArgs,
  SN_ADDR,
  SN_IP,
  startEdge,
  startSupernode,
  TAP,
  waitForTapAddress,
} from './helpers.js';

/*
 * What is modelled (docs/kubernetes.md): every node is a host with only a public address on the "internet"
 * bridge (the underlay) and runs a tsn2n edge (ChaCha20, -H) whose TAP carries the node's overlay address
 * 172.29.0.N/16. Behind each node sits one pod namespace, 10.244.N.2 in the node's pod block 10.244.N.0/24,
 * joined by a veth (`caliN` on the node, as Calico names them) and routed by the node. Pod traffic between nodes
 * is encapsulated between the nodes' overlay addresses: VXLAN (Calico's VXLAN mode: VNI 4096, UDP 4789, a
 * `vxlan.calico` device with static FDB and neighbour entries per remote node, as Felix programs them) or,
 * where the kernel has the driver, IPIP (one point-to-point `ipipM` device per remote node). Each node's tunnel
 * endpoint has an address 10.245.0.N (on the VXLAN segment, or as the local end of every IPIP device).
 * BIRD 2 runs on every node, iBGP full mesh in AS 64512 like Calico's node-to-node mesh, sessions between the
 * overlay addresses only (`local 172.29.0.N`, `strict bind`: Calico's `bindMode: NodeIP`), each node
 * announcing its pod block with its tunnel endpoint as next hop; BIRD installs the learned blocks as
 * `10.244.M.0/24 via 10.245.0.M dev <tunnel>`, so pod traffic takes the tunnel while BGP itself runs over n2n.
 */

/** Nodes in the cluster. */
export const NODE_COUNT = 3;
/** n2n community of the cluster (docs/kubernetes.md). */
export const COMMUNITY = 'k8s';
/** Prefix length of the overlay 172.29.0.0/16. */
const OVERLAY_BITS = 16;
/** Prefix length of a node's pod block. */
const POD_BLOCK_BITS = 24;
/** Calico's default AS number for the node-to-node mesh. */
const BGP_AS = 64512;
/** The BGP port. */
export const BGP_PORT = 179;
/** BGP timers: short, so sessions come up and come back within seconds in the lab (s). */
const BGP_HOLD_S = 6;
const BGP_KEEPALIVE_S = 2;
const BGP_CONNECT_DELAY_S = 1;
const BGP_CONNECT_RETRY_S = 2;
/** How often BIRD rescans interfaces (s). */
const BIRD_SCAN_S = 2;
/** Calico's VXLAN device, VNI and UDP port. */
export const VXLAN_DEV = 'vxlan.calico';
const VXLAN_VNI = 4096;
const VXLAN_PORT = 4789;
/** Prefix length of the VXLAN segment 10.245.0.0/24 that holds the tunnel endpoints. */
const VTEP_BITS = 24;
/** Time for an edge's TAP to get its address after a (re)start. */
const TAP_UP_TIMEOUT_MS = 20_000;
/** Time for the overlay to carry a ping between two nodes. */
const OVERLAY_UP_TIMEOUT_S = 30;
/** Time for every BGP session to reach Established and the pod routes to be installed. */
const BGP_UP_TIMEOUT_MS = 30_000;
/** Time a TCP connect probe waits for an answer. */
const CONNECT_PROBE_TIMEOUT_MS = 2_000;

/** How pod traffic crosses between the nodes. */
export const Encap = { VXLAN: 'vxlan', IPIP: 'ipip' } as const;
export type Encap = (typeof Encap)[keyof typeof Encap];

/** Bytes an encapsulation adds in front of a pod's IP packet (outer IPv4 20, + UDP 8 + VXLAN 8 + Ethernet 14). */
export const ENCAP_BYTES: Record<Encap, number> = { vxlan: 50, ipip: 20 };

export interface ClusterOptions {
  encap: Encap;
  /** The edges' `-M`; undefined: no `-M`, the default TAP MTU 1290. */
  tapMtu?: number;
  /** MTU of the pods' interfaces. */
  podMtu: number;
  /**
   * MTU of the tunnel device; default the pod MTU (Calico gives both the same). Flannel derives it from the
   * interface the tunnel uses (the TAP − 50) while the pods' MTU comes from the CNI configuration.
   */
  tunnelMtu?: number;
  /** The edges run with `--mss-clamp` (auto). */
  mssClamp: boolean;
  /** The underlay drops IP fragments, as many NATs and providers do (else it only counts them). */
  dropUnderlayFragments: boolean;
  /** The nodes drop the ICMP "fragmentation needed" they would send or forward. */
  filterFragNeeded: boolean;
}

export interface ClusterNode {
  /** 1 … NODE_COUNT. */
  n: number;
  name: string;
  host: LabHost;
  overlayIp: string;
  vtepIp: string;
  podNs: string;
  podIp: string;
  edge: LabProcess;
  bird?: LabProcess;
  birdSock: string;
}

export const overlayIp = (n: number): string => `172.29.0.${n}`;
export const underlayIp = (n: number): string => `203.0.113.${20 + n}`;
export const podIp = (n: number): string => `10.244.${n}.2`;
const podGateway = (n: number): string => `10.244.${n}.1`;
const podBlock = (n: number): string => `10.244.${n}.0/${POD_BLOCK_BITS}`;
const vtepIp = (n: number): string => `10.245.0.${n}`;
const vtepMac = (n: number): string => `02:00:0a:f5:00:${n.toString(16).padStart(2, '0')}`;
const ipipDev = (m: number): string => `ipip${m}`;
/** An address on the underlay outside the cluster: "the Internet" probing the nodes. */
export const OUTSIDER_IP = '203.0.113.50';
const UNDERLAY_BITS = 24;

/** The host firewall of docs/kubernetes.md section 6, with the public interface of the lab (`eth0`). */
const HOST_FIREWALL = `table inet k8s_public {
  chain input {
    type filter hook input priority filter - 10; policy accept;
    iifname "eth0" tcp dport { 179, 2379-2380, 5473, 6443, 10250, 10256, 10257, 10259 } drop
    iifname "eth0" tcp dport 30000-32767 drop
    iifname "eth0" udp dport { 4789, 8472 } drop
    iifname "eth0" meta l4proto { 4, 41 } drop
  }
}
`;

/** What the nodes do when ICMP "fragmentation needed" is filtered: drop it, counted. */
const FRAG_NEEDED_FILTER = `table inet pmtud_filter {
  counter frag_needed { }
  chain output {
    type filter hook output priority filter; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter name "frag_needed" drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    icmp type destination-unreachable icmp code frag-needed counter name "frag_needed" drop
  }
}
`;

/** The underlay's view of IP fragments, in the internet namespace's bridge: counted, and dropped if asked. */
function underlayRules(drop: boolean): string {
  return `table bridge underlay {
  counter fragments { }
  chain forward {
    type filter hook forward priority 0; policy accept;
    ip frag-off & 0x3fff != 0 counter name "fragments" ${drop ? 'drop' : 'accept'}
  }
}
`;
}

/** BIRD 2 configuration of node n: static pod block, kernel export of BGP routes, iBGP to the other nodes. */
function birdConfig(n: number): string {
  const peers: string[] = [];
  for (let m = 1; m <= NODE_COUNT; m++)
    if (m !== n) peers.push(`protocol bgp node${m} from mesh { neighbor ${overlayIp(m)} as ${BGP_AS}; }`);
  return `log stderr { info, remote, warning, error, auth, fatal, bug };
router id ${overlayIp(n)};
timeformat protocol iso short;
protocol device { scan time ${BIRD_SCAN_S}; }
protocol kernel {
  scan time ${BIRD_SCAN_S};
  ipv4 { import none; export where source = RTS_BGP; };
}
protocol static pods {
  ipv4;
  route ${podBlock(n)} blackhole;
}
template bgp mesh {
  local ${overlayIp(n)} as ${BGP_AS};
  strict bind yes;
  direct;
  hold time ${BGP_HOLD_S};
  keepalive time ${BGP_KEEPALIVE_S};
  connect delay time ${BGP_CONNECT_DELAY_S};
  connect retry time ${BGP_CONNECT_RETRY_S};
  error wait time ${BGP_CONNECT_DELAY_S}, ${BGP_HOLD_S};
  ipv4 {
    import all;
    export where proto = "pods";
    next hop address ${vtepIp(n)};
    gateway direct;
  };
}
${peers.join('\n')}
`;
}

// A TCP connect attempt: prints "connected", or the error code (ECONNREFUSED, ETIMEDOUT, …).
const CONNECT_SCRIPT = `
const net=require('net');const [host,port,ms,local]=[process.argv[1],Number(process.argv[2]),Number(process.argv[3]),process.argv[4]];
const s=net.connect({host,port,localAddress:local||undefined});
const t=setTimeout(()=>{process.stdout.write('ETIMEDOUT\\n');s.destroy();process.exit(0)},ms);
s.on('connect',()=>{clearTimeout(t);process.stdout.write('connected\\n');s.destroy();process.exit(0)});
s.on('error',(e)=>{clearTimeout(t);process.stdout.write((e.code||e.message)+'\\n');process.exit(0)});`;

/** Tries a TCP connection from namespace `ns` (optionally from `localAddress`); "connected" or the error code. */
export async function tcpConnect(
  lab: Lab,
  ns: string,
  host: string,
  port: number,
  localAddress = '',
): Promise<string> {
  const r = await lab.runNode(
    ns,
    CONNECT_SCRIPT,
    [host, String(port), String(CONNECT_PROBE_TIMEOUT_MS), localAddress],
    {
      check: false,
    },
  );
  return r.stdout.trim() || `exit ${r.code}: ${r.stderr.trim()}`;
}

/** Loads an nft ruleset from a file inside a namespace. */
async function nftLoad(lab: Lab, ns: string, dir: string, name: string, rules: string): Promise<void> {
  const file = join(dir, `${name}.nft`);
  writeFileSync(file, rules);
  await lab.run(ns, ['nft', '-f', file]);
}

/** Packets counted by a named nft counter. */
async function nftCounter(
  lab: Lab,
  ns: string,
  family: string,
  table: string,
  name: string,
): Promise<number> {
  const r = await lab.run(ns, ['nft', 'list', 'counter', family, table, name]);
  const m = r.stdout.match(/packets (\d+)/);
  if (!m) throw new Error(`nft counter ${family} ${table} ${name}: unexpected output ${r.stdout}`);
  return Number(m[1]);
}

/** IPv4 counters of a namespace from /proc/net/snmp (`Ip:` header and value lines). */
async function ipSnmp(lab: Lab, ns: string): Promise<Record<string, number>> {
  const r = await lab.run(ns, ['cat', '/proc/net/snmp']);
  const ip = r.stdout.split('\n').filter((l) => l.startsWith('Ip:'));
  const keys = ip[0].split(/\s+/).slice(1);
  const vals = ip[1].split(/\s+/).slice(1);
  const out: Record<string, number> = {};
  keys.forEach((k, i) => {
    out[k] = Number(vals[i]);
  });
  return out;
}

/** Whether this kernel can create an IPIP device (tried in a scratch namespace of the lab); the error if not. */
export async function ipipSupport(lab: Lab): Promise<{ ok: boolean; error: string }> {
  const ns = await lab.namespace('ipipprobe');
  const r = await lab.run(ns, ['ip', 'link', 'add', 'probe0', 'type', 'ipip', 'local', '192.0.2.1'], {
    check: false,
  });
  return { ok: r.code === 0, error: r.stderr.trim() };
}

/** The cluster: supernode, nodes with edges, pods, tunnels, BIRD; built by `create`, torn down with the lab. */
export class Cluster {
  readonly nodes: ClusterNode[] = [];
  private supernode?: LabProcess;
  private outsider?: LabHost;

  private constructor(
    readonly lab: Lab,
    readonly opts: ClusterOptions,
    /** Temporary directory for configuration files and sockets (the caller removes it). */
    readonly dir: string,
  ) {}

  static async create(lab: Lab, opts: ClusterOptions, dir: string): Promise<Cluster> {
    const c = new Cluster(lab, opts, dir);
    await c.build();
    return c;
  }

  /** A host on the underlay outside the cluster ("the Internet"). */
  get outside(): LabHost {
    if (!this.outsider) throw new Error('cluster not built');
    return this.outsider;
  }

  node(n: number): ClusterNode {
    return this.nodes[n - 1];
  }

  private async build(): Promise<void> {
    const { lab, opts, dir } = this;
    const snHost = await lab.publicHost('sn', `${SN_IP}/${UNDERLAY_BITS}`);
    const inet = await lab.internet();
    await nftLoad(lab, inet, dir, 'underlay', underlayRules(opts.dropUnderlayFragments));
    const communities = join(dir, 'community.list');
    writeFileSync(communities, `${COMMUNITY}\n`);
    this.supernode = await startSupernode(lab, snHost, ['-c', communities]);

    for (let n = 1; n <= NODE_COUNT; n++) {
      const name = `node${n}`;
      const host = await lab.publicHost(name, `${underlayIp(n)}/${UNDERLAY_BITS}`);
      const podNs = await lab.namespace(`pod${n}`);
      const nodeDir = join(dir, name);
      mkdirSync(nodeDir);
      this.nodes.push({
        n,
        name,
        host,
        overlayIp: overlayIp(n),
        vtepIp: vtepIp(n),
        podNs,
        podIp: podIp(n),
        edge: this.startEdge(host, n, opts.mssClamp),
        birdSock: join(nodeDir, 'bird.ctl'),
      });
    }
    this.outsider = await lab.publicHost('outside', `${OUTSIDER_IP}/${UNDERLAY_BITS}`);
    await this.waitOverlay();

    for (const node of this.nodes) {
      await this.plugPod(node);
      await this.tunnel(node);
      if (opts.filterFragNeeded) await nftLoad(lab, node.host.ns, dir, `pmtud-${node.n}`, FRAG_NEEDED_FILTER);
    }
    for (const node of this.nodes) this.startBird(node);
    await this.waitBgp();
  }

  private startEdge(host: LabHost, n: number, mssClamp: boolean): LabProcess {
    const extra = [
      ...(this.opts.tapMtu === undefined ? [] : ['-M', String(this.opts.tapMtu)]),
      ...(mssClamp ? ['--mss-clamp'] : []),
    ];
    return startEdge(
      this.lab,
      host,
      edgeArgs({
        community: COMMUNITY,
        supernodes: [SN_ADDR],
        address: `${overlayIp(n)}/${OVERLAY_BITS}`,
        cipher: 4,
        headerEncryption: true,
        desc: `node${n}`,
        extra,
      }),
    );
  }

  /** Waits until every edge's TAP has its address and every pair of nodes pings over the overlay. */
  private async waitOverlay(): Promise<void> {
    for (const node of this.nodes) {
      const a = await waitForTapAddress(this.lab, node.host.ns, TAP, TAP_UP_TIMEOUT_MS);
      if (a !== node.overlayIp)
        throw new Error(`${node.name}: TAP ${TAP} has no address ${node.overlayIp}:\n${node.edge.tail()}`);
    }
    for (const a of this.nodes)
      for (const b of this.nodes) {
        if (b.n <= a.n) continue;
        const up = await waitForPing(this.lab, a.host.ns, b.overlayIp, OVERLAY_UP_TIMEOUT_S);
        if (up === undefined) throw new Error(`no ping over the overlay from ${a.name} to ${b.name}`);
      }
  }

  /** The pod namespace behind a node: veth `caliN` ⇄ `eth0`, the pod's default route via the node. */
  private async plugPod(node: ClusterNode): Promise<void> {
    const { lab } = this;
    const cali = `cali${node.n}`;
    await lab.veth(node.host.ns, cali, node.podNs, 'eth0', this.opts.podMtu);
    await lab.addAddress(node.host.ns, cali, `${podGateway(node.n)}/${POD_BLOCK_BITS}`);
    await lab.addAddress(node.podNs, 'eth0', `${node.podIp}/${POD_BLOCK_BITS}`);
    await lab.run(node.podNs, ['ip', 'route', 'add', 'default', 'via', podGateway(node.n)]);
    // A sender killed in a stalled transfer leaves an orphaned socket that would go on retransmitting its
    // full-size segments for minutes, into the next measurement's counters: let the pod's kernel drop it at its
    // next retransmission instead.
    await lab.sysctl(node.podNs, 'net.ipv4.tcp_orphan_retries', '1');
    await lab.sysctl(node.host.ns, 'net.ipv4.ip_forward', '1');
  }

  /** The tunnel between this node's and the other nodes' overlay addresses. */
  private async tunnel(node: ClusterNode): Promise<void> {
    const { lab } = this;
    const ns = node.host.ns;
    const mtu = String(this.opts.tunnelMtu ?? this.opts.podMtu);
    const others = this.nodes.filter((o) => o.n !== node.n);
    if (this.opts.encap === Encap.VXLAN) {
      await lab.run(ns, [
        'ip',
        'link',
        'add',
        VXLAN_DEV,
        'type',
        'vxlan',
        'id',
        String(VXLAN_VNI),
        'local',
        node.overlayIp,
        'dstport',
        String(VXLAN_PORT),
        'nolearning',
      ]);
      await lab.run(ns, ['ip', 'link', 'set', VXLAN_DEV, 'address', vtepMac(node.n), 'mtu', mtu, 'up']);
      await lab.addAddress(ns, VXLAN_DEV, `${node.vtepIp}/${VTEP_BITS}`);
      for (const o of others) {
        // What Felix programs per remote node: its VTEP's MAC behind its overlay address, and the neighbour entry.
        await lab.run(ns, ['bridge', 'fdb', 'append', vtepMac(o.n), 'dev', VXLAN_DEV, 'dst', o.overlayIp]);
        await lab.run(ns, [
          'ip',
          'neigh',
          'replace',
          o.vtepIp,
          'lladdr',
          vtepMac(o.n),
          'dev',
          VXLAN_DEV,
          'nud',
          'permanent',
        ]);
      }
    } else {
      for (const o of others) {
        const dev = ipipDev(o.n);
        await lab.run(ns, [
          'ip',
          'link',
          'add',
          dev,
          'type',
          'ipip',
          'local',
          node.overlayIp,
          'remote',
          o.overlayIp,
        ]);
        await lab.run(ns, ['ip', 'link', 'set', dev, 'mtu', mtu, 'up']);
        await lab.run(ns, ['ip', 'addr', 'add', node.vtepIp, 'peer', o.vtepIp, 'dev', dev]);
      }
    }
  }

  private startBird(node: ClusterNode): void {
    const nodeDir = join(this.dir, node.name);
    const conf = join(nodeDir, 'bird.conf');
    writeFileSync(conf, birdConfig(node.n));
    node.bird = this.lab.spawn(
      `bird@${node.name}`,
      node.host.ns,
      ['bird', '-f', '-c', conf, '-s', node.birdSock, '-P', join(nodeDir, 'bird.pid')],
      { critical: true },
    );
  }

  /** `birdc -s <sock> <command>` in a node's namespace. */
  async birdc(node: ClusterNode, command: readonly string[]): Promise<string> {
    const r = await this.lab.run(node.host.ns, ['birdc', '-s', node.birdSock, ...command], { check: false });
    return r.stdout;
  }

  /** The state column of each BGP protocol (`node2` → `Established`, …) from `birdc show protocols`. */
  async bgpStates(node: ClusterNode): Promise<Map<string, string>> {
    const out = await this.birdc(node, ['show', 'protocols']);
    const m = new Map<string, string>();
    for (const line of out.split('\n')) {
      const f = line.trim().split(/\s+/);
      // name proto table state since info
      if (f[1] === 'BGP') m.set(f[0], f[f.length - 1]);
    }
    return m;
  }

  /** Pod blocks BIRD installed in a node's kernel table (`ip route show proto bird`), as route lines. */
  async birdRoutes(node: ClusterNode): Promise<string[]> {
    const r = await this.lab.run(node.host.ns, ['ip', '-4', 'route', 'show', 'proto', 'bird']);
    return r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
  }

  /** Waits until every node has every session Established and a route for every other pod block via the tunnel. */
  async waitBgp(): Promise<void> {
    const ready = await waitFor(async () => {
      this.lab.assertNoCrash();
      for (const node of this.nodes) {
        const states = await this.bgpStates(node);
        const routes = await this.birdRoutes(node);
        for (const o of this.nodes) {
          if (o.n === node.n) continue;
          if (states.get(o.name) !== 'Established') return false;
          if (!routes.some((r) => r.startsWith(`${podBlock(o.n)} via ${o.vtepIp}`))) return false;
        }
      }
      return true;
    }, BGP_UP_TIMEOUT_MS);
    if (!ready) {
      const report: string[] = [];
      for (const node of this.nodes)
        report.push(
          `${node.name}: ${JSON.stringify([...(await this.bgpStates(node))])} routes ${JSON.stringify(await this.birdRoutes(node))}\n${node.bird?.tail()}`,
        );
      throw new Error(
        `BGP sessions or pod routes not up within ${BGP_UP_TIMEOUT_MS} ms:\n${report.join('\n')}`,
      );
    }
  }

  /** Loads the host firewall of docs/kubernetes.md section 6 on a node. */
  async hostFirewall(node: ClusterNode): Promise<void> {
    await nftLoad(this.lab, node.host.ns, this.dir, `firewall-${node.n}`, HOST_FIREWALL);
  }

  /** Lets the outsider route the overlay through a node's public address (a hostile neighbour on the underlay). */
  async routeOverlayVia(node: ClusterNode): Promise<void> {
    await this.lab.run(this.outside.ns, [
      'ip',
      'route',
      'replace',
      `172.29.0.0/${OVERLAY_BITS}`,
      'via',
      node.host.ip,
    ]);
  }

  /** Restarts every edge (e.g. with `--mss-clamp` added), then waits for the overlay and BGP to be back. */
  async restartEdges(mssClamp: boolean): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.edge.stop()));
    for (const node of this.nodes) node.edge = this.startEdge(node.host, node.n, mssClamp);
    await this.waitOverlay();
    await this.waitBgp();
  }

  /** IP fragments that crossed the underlay bridge (dropped there when `dropUnderlayFragments`). */
  underlayFragments(): Promise<number> {
    return this.lab.internet().then((ns) => nftCounter(this.lab, ns, 'bridge', 'underlay', 'fragments'));
  }

  /** IP fragments the nodes' kernels created (n2n datagrams larger than the underlay MTU), summed over nodes. */
  async fragmentsCreated(): Promise<number> {
    let sum = 0;
    for (const node of this.nodes) sum += (await ipSnmp(this.lab, node.host.ns)).FragCreates ?? 0;
    return sum;
  }

  /** ICMP "fragmentation needed" the nodes dropped (with `filterFragNeeded`), summed over nodes. */
  async fragNeededDropped(): Promise<number> {
    let sum = 0;
    for (const node of this.nodes)
      sum += await nftCounter(this.lab, node.host.ns, 'inet', 'pmtud_filter', 'frag_needed');
    return sum;
  }

  /** Packets sent through a node's tunnel device(s) (`/sys/class/net/<dev>/statistics/tx_packets`). */
  async tunnelTxPackets(node: ClusterNode): Promise<number> {
    const devs =
      this.opts.encap === Encap.VXLAN
        ? [VXLAN_DEV]
        : this.nodes.filter((o) => o.n !== node.n).map((o) => ipipDev(o.n));
    let sum = 0;
    for (const dev of devs) {
      const r = await this.lab.run(node.host.ns, ['cat', `/sys/class/net/${dev}/statistics/tx_packets`]);
      sum += Number(r.stdout.trim());
    }
    return sum;
  }

  /** An edge's management `packetstats` rows, keyed by type. */
  async edgeStats(node: ClusterNode): Promise<Map<string, Record<string, unknown>>> {
    const rows = await mgmtRead(this.lab, node.host.ns, EDGE_MGMT_PORT, 'packetstats');
    return new Map(rows.map((r) => [String(r.type), r]));
  }

  /** TCP SYNs whose MSS the node's edge lowered, both directions (the tsn2n-only `mss_clamp` packetstats row). */
  async clampedSyns(node: ClusterNode): Promise<number> {
    const row = (await this.edgeStats(node)).get('mss_clamp');
    if (!row) throw new Error(`${node.name}: packetstats has no mss_clamp row (is --mss-clamp on?)`);
    return Number(row.tx_pkt) + Number(row.rx_pkt);
  }

  /** A quick pod-to-pod ping (small packets), for "the network looks up". */
  podPing(from: ClusterNode, to: ClusterNode, count: number): ReturnType<typeof ping> {
    return ping(this.lab, from.podNs, to.podIp, { count, intervalS: 0.2 });
  }

  /** Every process the cluster depends on, for assertAlive. */
  processes(): LabProcess[] {
    const ps: LabProcess[] = [];
    if (this.supernode) ps.push(this.supernode);
    for (const n of this.nodes) {
      ps.push(n.edge);
      if (n.bird) ps.push(n.bird);
    }
    return ps;
  }
}
