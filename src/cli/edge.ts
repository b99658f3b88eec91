// `tsn2n edge`: n2n 3.1.1's edge command line (and config file) over the Edge library, with its management port.
import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { Command, Option } from 'commander';
import type { RouteCleanup } from '../edge/deps.js';
import { Edge, type RegisteredEvent } from '../edge/edge.js';
import type { EdgeOptions, EdgeRoute } from '../edge/options.js';
import {
  DEFAULT_TAP_NAME,
  MAX_EDGE_MTU,
  MAX_MSS_CLAMP,
  MIN_EDGE_MTU,
  MIN_MSS_CLAMP,
  truncateBytes,
} from '../edge/options.js';
import { systemEdgeDeps } from '../edge/system.js';
import { SdState, sdNotify } from '../io/notify.js';
import type { TapDevice } from '../io/types.js';
import { openUdp } from '../io/udp.js';
import { EDGE_MGMT_PORT, serveEdgeManagement } from '../management/edge.js';
import { DEFAULT_EDGE_HTTP_PORT } from '../management/http.js';
import { DEFAULT_SUPERNODE_PORT } from '../supernode/options.js';
import { ConfigError } from '../util/errors.js';
import { numberToIpv4, type SockAddr, splitBindSpec } from '../util/ip.js';
import { type Logger, LogLevel } from '../util/log.js';
import {
  collect,
  count,
  DEFAULT_LOG_LEVEL,
  dropPrivileges,
  intArg,
  MAX_PORT,
  type MergeRules,
  mergeOptions,
  parseConfigTokens,
  type RawOpts,
  StderrLogger,
} from './common.js';
import { loadConfigFile } from './config.js';
import { defineObservabilityOptions, observabilityConfig, startEdgeObservability } from './observe.js';
import { defaultStatePath, loadOrCreateToken, NO_STATE, STATE_DIR } from './state.js';

const execFileP = promisify(execFile);

/** The description defaults to the host name, cut to the 15 characters of the desc field. */
const DESC_MAX_CHARS = 15;
/**
 * Without -l the edge uses a supernode on this host (3.1.1 refuses to start instead): the one-line command of a
 * single-host lab, or a node that runs the supernode itself (docs/kubernetes.md).
 */
export const DEFAULT_LOCAL_SUPERNODE = `127.0.0.1:${DEFAULT_SUPERNODE_PORT}`;

/** Adds every option of n2n 3.1.1's edge (edge.c: getopt string and long_options) to `cmd`. */
function defineEdgeOptions(cmd: Command): Command {
  defineObservabilityOptions(cmd, DEFAULT_EDGE_HTTP_PORT);
  return cmd
    .option('-c, --community <name>', 'community name (at most 19 characters); env N2N_COMMUNITY')
    .option(
      '-l, --supernode-list <host:port>',
      `supernode address and port; repeatable (default ${DEFAULT_LOCAL_SUPERNODE})`,
      collect,
    )
    .option(
      '-p <[ip:]port>',
      'local UDP port and/or bind address (default: any address, port chosen by the OS)',
    )
    .option('-T <tos>', 'IP TOS of the UDP socket, e.g. 0x48', intArg('-T', 0, 255))
    .option('-D', 'enable path MTU discovery')
    .option('-e <ip|auto>', "advertise this local address as the preferred socket ('auto' detects it)")
    .option('-S [level]', 'do not connect P2P, always use the supernode (-S1); -S2 also reaches it over TCP')
    .option('-i <seconds>', 'registration interval (default 20)', intArg('-i', 1, MAX_PORT))
    .option('-L <ttl>', 'TTL of the NAT hole-punching REGISTER (default 0 = not set)', intArg('-L', 0, 255))
    .option('-k <key>', 'encryption key (ASCII); env N2N_KEY')
    .option(
      '-A [cipher]',
      'cipher: -A1 none, -A2 Twofish, -A3 AES (default with a key), -A4 ChaCha20, -A5 Speck',
    )
    .option('-H', 'enable header encryption (the supernode needs the community in its -c file)')
    .option('-z [level]', 'compress outgoing data: -z1 LZO, -z2 zstd (where the zstd binding is built)')
    .option('--select-rtt', 'select the supernode by round-trip time')
    .option('--select-mac', 'select the supernode by lowest MAC address (default: by load)')
    .option('--no-port-forwarding', 'accepted for compatibility (no UPnP/NAT-PMP in this build)')
    .option(
      '-a <[static:|dhcp:]ip[/bits]>',
      "TAP address (default: assigned by the supernode); 'dhcp:0.0.0.0' with -r",
    )
    .option('-m <mac>', 'TAP MAC address (default random)')
    .option(
      '--state-file <path>',
      `where the registration token is kept across restarts (default: beside the config file, else ${STATE_DIR}/<device>.state; '${NO_STATE}' keeps nothing)`,
    )
    .option('-d, --tap-device <name>', 'TAP device name (default edge0)')
    .option('-M <mtu>', 'TAP MTU (default 1290)', intArg('-M', MIN_EDGE_MTU, MAX_EDGE_MTU))
    .option(
      '--mss-clamp [auto|N]',
      "lower the MSS of TCP SYNs crossing the TAP (also inside IPIP/VXLAN): 'auto' (the default value) fits " +
        'the TAP MTU and the underlay path, N sets the IPv4 MSS in bytes (IPv6: N − 20); off by default',
    )
    .option('-r', 'enable packet forwarding/routing through the community')
    .option('-E', 'accept multicast MAC addresses (dropped by default)')
    .option('-I <description>', 'edge description; the user name with -J (at most 15 characters)')
    .option('-J <password>', 'password for user/password authentication; env N2N_PASSWORD')
    .option('-P <public key>', 'federation public key for user/password authentication')
    .option(
      '-R <rule>',
      "traffic rule 'src_ip/n:[p1,p2],dst_ip/n:[p1,p2],TCP±,UDP±,ICMP±'; repeatable",
      collect,
    )
    .option('-f', 'run in the foreground (always the case; accepted for compatibility)')
    .option('-t <port>', `management UDP port (default ${EDGE_MGMT_PORT})`, intArg('-t', 1, MAX_PORT))
    .option('--management-password <pw>', "management JSON API password (default 'n2n')")
    .option('-v, --verbose', 'more verbose logging; repeatable', count)
    .option('-V', 'less verbose logging; repeatable', count)
    .option(
      '-n <cidr:gateway>',
      'route an IPv4 network via the gateway (0.0.0.0/0 = default); repeatable',
      collect,
    )
    .option('-u, --euid <uid>', 'drop privileges to this user id after start', intArg('-u', 0, 0xffffffff))
    .option('-g, --egid <gid>', 'drop privileges to this group id after start', intArg('-g', 0, 0xffffffff))
    .addOption(new Option('-s <unused>', 'accepted by n2n, no effect').hideHelp());
}

const MERGE_RULES: MergeRules = {
  lists: new Set(['supernodeList', 'R', 'n']),
  counts: new Set(['verbose', 'V']),
};

/** `--mss-clamp[=auto|N]`: bare or 'auto' → 'auto', digits → the MSS; anything else is a one-line error. */
function mssClampArg(v: unknown): 'auto' | number {
  if (v === true || v === 'auto') return 'auto';
  const s = String(v).trim();
  if (/^\d{1,5}$/.test(s)) return Number(s);
  throw new ConfigError(
    `--mss-clamp=${s}: expected 'auto' or an MSS in bytes (${MIN_MSS_CLAMP}..${MAX_MSS_CLAMP})`,
  );
}

function optionalLevel(v: unknown, flag: string, allowed: readonly string[]): string | undefined {
  if (v === undefined) return undefined;
  if (v === true) return allowed[0];
  const s = String(v);
  if (!/^\d+$/.test(s)) throw new ConfigError(`${flag}${s}: expected a number`);
  return s;
}

/** Turns parsed flags plus the environment into library options (edge.c: setOption and main). */
export function edgeOptionsFromFlags(o: RawOpts, env: NodeJS.ProcessEnv): EdgeOptions {
  const opts: EdgeOptions = {
    community: (o.community as string | undefined) ?? env.N2N_COMMUNITY ?? '',
    supernodes: (o.supernodeList as string[] | undefined) ?? [DEFAULT_LOCAL_SUPERNODE],
  };
  const key = (o.k as string | undefined) ?? env.N2N_KEY;
  if (key !== undefined) opts.key = key;
  const cipher = optionalLevel(o.A, '-A', ['3']);
  if (cipher !== undefined) opts.transform = Number(cipher);
  if (o.H) opts.headerEncryption = true;
  const z = optionalLevel(o.z, '-z', ['1']);
  if (z === '1') opts.compression = 'lzo';
  else if (z === '2') opts.compression = 'zstd';
  else if (z !== undefined)
    throw new ConfigError(`-z${z}: unknown compression (use -z1 for LZO, -z2 for zstd)`);
  const s = optionalLevel(o.S, '-S', ['1']);
  if (s !== undefined) {
    if (s === '2') opts.tcp = true;
    else if (Number(s) >= 1) opts.p2p = false;
  }
  if (o.p !== undefined) {
    // edge.c: "-p ip:port", "-p ip" (has a dot) or "-p port".
    // Also `[ipv6]:port` and a bare IPv6 address (not in 3.1.1, which binds IPv4 only).
    const { address, port } = splitBindSpec(String(o.p));
    if (address !== undefined) opts.bindAddress = address;
    if (port !== undefined) {
      if (!/^\d+$/.test(port) || Number(port) > MAX_PORT) throw new ConfigError(`-p: invalid port '${port}'`);
      opts.localPort = Number(port);
    }
  }
  if (o.T !== undefined) opts.tos = o.T as number;
  if (o.D) opts.pmtuDiscovery = true;
  if (o.e !== undefined) opts.preferredAddress = o.e as string;
  if (o.i !== undefined) opts.registerInterval = o.i as number;
  if (o.L !== undefined) opts.registerTtl = o.L as number;
  if (o.selectRtt) opts.selection = 'rtt';
  if (o.selectMac) opts.selection = 'mac';
  if (o.a !== undefined) opts.address = o.a as string;
  if (o.m !== undefined) opts.mac = o.m as string;
  if (o.tapDevice !== undefined) opts.device = o.tapDevice as string;
  if (o.M !== undefined) opts.mtu = o.M as number;
  if (o.mssClamp !== undefined) opts.mssClamp = mssClampArg(o.mssClamp);
  if (o.r) opts.allowRouting = true;
  if (o.E) opts.acceptMulticast = true;
  opts.description = (o.I as string | undefined) ?? truncateBytes(hostname(), DESC_MAX_CHARS);
  const password = (o.J as string | undefined) ?? env.N2N_PASSWORD;
  if (password !== undefined) opts.password = password;
  if (o.P !== undefined) opts.federationKey = o.P as string;
  if (o.R !== undefined) opts.rules = o.R as string[];
  if (o.n !== undefined) opts.routes = o.n as string[];
  return opts;
}

// ---------------------------------------------------------------- routes (-n) through `ip route`

async function ip(args: string[], logger: Logger): Promise<void> {
  try {
    await execFileP('ip', args);
    logger.log(LogLevel.INFO, `ip ${args.join(' ')}`);
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? (err as Error).message).trim();
    // Existing routes are fine (edge_utils.c: routectl ignores EEXIST).
    if (/File exists/.test(stderr)) return;
    throw new Error(`ip ${args.join(' ')}: ${stderr}`);
  }
}

/** The current default gateway of the host (edge_utils.c: get_gateway_ip reads /proc/net/route). */
async function defaultGateway(): Promise<string | undefined> {
  const { stdout } = await execFileP('ip', ['-4', 'route', 'show', 'default']);
  return /via (\d+\.\d+\.\d+\.\d+)/.exec(stdout)?.[1];
}

/**
 * Installs the -n routes with `ip route` (the addon has no route support). 0.0.0.0/0 becomes 0.0.0.0/1 and
 * 128.0.0.0/1 via the n2n gateway plus a host route to the supernode via the old gateway (edge_utils.c:
 * edge_init_routes_linux); that host route is removed again on stop, the others vanish with the device.
 */
function routeInstaller(logger: Logger) {
  return async (
    routes: readonly EdgeRoute[],
    tap: TapDevice,
    sn: SockAddr | undefined,
  ): Promise<RouteCleanup> => {
    const cleanups: string[][] = [];
    for (const r of routes) {
      const gw = numberToIpv4(r.gateway);
      if (r.net === 0 && r.bits === 0) {
        if (cleanups.length > 0) throw new Error('-n: only one default route is allowed');
        if (sn === undefined) throw new Error('-n 0.0.0.0/0: the supernode address is not known');
        const hostGw = await defaultGateway();
        if (hostGw === undefined) throw new Error('-n 0.0.0.0/0: could not determine the default gateway');
        const snRoute = [`${sn.address}/32`, 'via', hostGw];
        await ip(['route', 'add', ...snRoute], logger);
        cleanups.push(['route', 'del', ...snRoute]);
        await ip(['route', 'add', '0.0.0.0/1', 'via', gw, 'dev', tap.info.name], logger);
        await ip(['route', 'add', '128.0.0.0/1', 'via', gw, 'dev', tap.info.name], logger);
      } else {
        await ip(
          ['route', 'add', `${numberToIpv4(r.net)}/${r.bits}`, 'via', gw, 'dev', tap.info.name],
          logger,
        );
      }
    }
    return async () => {
      for (const c of cleanups) await ip(c, logger);
    };
  };
}

// ---------------------------------------------------------------- running

/** The parsed flags (config file first, command line on top) and the library options they make. */
export interface ParsedEdgeArgs {
  raw: RawOpts;
  options: EdgeOptions;
  /** No -l anywhere: `options.supernodes` is the local default (the CLI says so on stderr). */
  defaultSupernode: boolean;
}

function resolveArgs(
  configFile: string | undefined,
  cliOpts: RawOpts,
  cmd: Command,
  env: NodeJS.ProcessEnv,
): ParsedEdgeArgs {
  let raw = cliOpts;
  if (configFile !== undefined) {
    raw = mergeOptions(
      parseConfigTokens(
        configFile,
        loadConfigFile(configFile, 'edge'),
        defineEdgeOptions(new Command('edge')),
      ),
      cliOpts,
      cmd,
      MERGE_RULES,
    );
  }
  return {
    raw,
    options: edgeOptionsFromFlags(raw, env),
    defaultSupernode: raw.supernodeList === undefined,
  };
}

/**
 * Parses `tsn2n edge` arguments (after the word `edge`) without running anything: for tests and tools.
 * Throws CommanderError for unknown or malformed flags and ConfigError for invalid values.
 */
export function parseEdgeArgs(args: string[], env: NodeJS.ProcessEnv = {}): ParsedEdgeArgs {
  const cmd = defineEdgeOptions(new Command('edge'))
    .argument('[config-file]')
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  cmd.parse(args, { from: 'user' });
  return resolveArgs(cmd.args[0], cmd.opts(), cmd, env);
}

async function runEdge(configFile: string | undefined, cliOpts: RawOpts, cmd: Command): Promise<void> {
  const { raw, options, defaultSupernode } = resolveArgs(configFile, cliOpts, cmd, process.env);
  const observe = observabilityConfig(
    raw,
    process.env,
    (raw.t as number | undefined) ?? DEFAULT_EDGE_HTTP_PORT,
  );
  const level = DEFAULT_LOG_LEVEL + ((raw.verbose as number) ?? 0) - ((raw.V as number) ?? 0);
  const logger = new StderrLogger(Math.max(0, level));
  if (defaultSupernode) {
    logger.log(LogLevel.NORMAL, `no supernode given (-l): using ${DEFAULT_LOCAL_SUPERNODE}`);
  }
  // systemd Type=notify (deploy/systemd/): a no-op when not started by systemd.
  const notify = (state: string): boolean => sdNotify(state, process.env.NOTIFY_SOCKET);
  const mgmtPort = (raw.t as number | undefined) ?? EDGE_MGMT_PORT;
  const statePath =
    (raw.stateFile as string | undefined) ??
    // TSN2N_STATE_DIR moves the default directory (the namespace lab points it at its own temporary one).
    defaultStatePath(
      configFile,
      options.device ?? DEFAULT_TAP_NAME,
      process.env.TSN2N_STATE_DIR || STATE_DIR,
    );
  if (statePath !== NO_STATE && options.password === undefined)
    options.authToken = loadOrCreateToken(statePath, logger);
  // TSN2N_NATIVE_FASTPATH=0 keeps every packet on the JS path (edge/fastpath.ts), for comparison and as a way out.
  const nativeFastPath = process.env.TSN2N_NATIVE_FASTPATH !== '0';
  const edge = new Edge(options, {
    ...systemEdgeDeps({ logger, nativeFastPath }),
    addRoutes: routeInstaller(logger),
  });
  let mgmtSocket: Awaited<ReturnType<typeof openUdp>>;
  try {
    mgmtSocket = await openUdp({ address: '127.0.0.1', port: mgmtPort });
  } catch (err) {
    throw new Error(
      `cannot open the management port 127.0.0.1:${mgmtPort}: ${(err as Error).message} (use -t for another port)`,
    );
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (stopping === undefined) notify(SdState.STOPPING);
    stopping ??= edge.stop();
    return stopping;
  };
  const server = serveEdgeManagement(edge, mgmtSocket, {
    password: raw.managementPassword as string | undefined,
    onStop: () => {
      logger.log(LogLevel.NORMAL, 'stop command received');
      void stop();
    },
  });
  let obs: Awaited<ReturnType<typeof startEdgeObservability>>;
  try {
    obs = await startEdgeObservability(edge, observe, logger, () => {
      logger.log(LogLevel.NORMAL, 'stop requested over HTTP');
      void stop();
    });
  } catch (err) {
    server.close();
    throw err;
  }
  const stopped = new Promise<void>((resolve) => edge.once('stopped', resolve));
  let signals = 0;
  const onSignal = (): void => {
    // A second signal leaves at once (edge.c: term_handler).
    if (++signals > 1) process.exit(0);
    logger.log(LogLevel.NORMAL, 'shutting down...');
    void stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let statusSupernode = '';
  edge.on('registered', (e: RegisteredEvent) => {
    if (e.first) {
      logger.log(
        LogLevel.NORMAL,
        `registered with supernode ${e.supernode}, public address ${e.publicAddr ?? 'unknown'}`,
      );
    }
    if (e.supernode !== statusSupernode) {
      statusSupernode = e.supernode;
      notify(`STATUS=registered with supernode ${e.supernode}`);
    }
  });
  logger.log(LogLevel.NORMAL, `starting n2n edge (tsn2n), community '${edge.config.community}'`);
  try {
    await edge.start();
  } catch (err) {
    server.close();
    await obs.close();
    throw err;
  }
  obs.announce();
  if (edge.runState === 'running') {
    logger.log(LogLevel.NORMAL, 'edge started');
    // Ready once the TAP device is up with its address (what kubelet's node IP needs), not only once a
    // supernode answers: a host must boot while its supernode is down, and registration follows by itself.
    notify(`${SdState.READY}\nSTATUS=device ${edge.config.device} up, registering with the supernode`);
    dropPrivileges(raw, logger);
  }
  await stopped;
  server.close();
  await obs.close();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  logger.log(LogLevel.NORMAL, 'edge stopped');
}

export function registerEdge(program: Command): void {
  const cmd = program
    .command('edge')
    .description(
      'n2n edge: join a community over a TAP device (n2n 3.1.1 options). ' +
        'A config file (one option per line, n2n format) may be given first.',
    )
    .argument('[config-file]', 'n2n edge configuration file, read before the other options');
  defineEdgeOptions(cmd);
  cmd.action(async (configFile: string | undefined, opts: RawOpts) => {
    await runEdge(configFile, opts, cmd);
  });
}
