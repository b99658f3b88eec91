// `tsn2n supernode`: n2n 3.1.1's supernode command line (and config file) over the Supernode library.
import { Command, InvalidArgumentError } from 'commander';
import { SdState, sdNotify } from '../io/notify.js';
import { openUdp } from '../io/udp.js';
import { DEFAULT_SUPERNODE_HTTP_PORT } from '../management/http.js';
import { SupernodeManagement } from '../management/supernode.js';
import {
  DEFAULT_NEW_EDGE_BURST,
  DEFAULT_NEW_EDGES_PER_SECOND,
  DEFAULT_SUPERNODE_MGMT_PORT,
  DEFAULT_SUPERNODE_PORT,
  type SupernodeOptions,
} from '../supernode/options.js';
import { Supernode } from '../supernode/supernode.js';
import { ConfigError } from '../util/errors.js';
import { sockAddrToString, splitBindSpec } from '../util/ip.js';
import { LogLevel } from '../util/log.js';
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
import { defineObservabilityOptions, observabilityConfig, startSupernodeObservability } from './observe.js';

const MAX_ID = 0xffffffff;
/** The management socket is bound to loopback only (spec §13). */
const MGMT_ADDRESS = '127.0.0.1';

/** `-p [ip:]port` or `-p [ipv6]:port` (3.1.1 takes a port; later versions also a bind address). */
function portArg(v: string): { address?: string; port: number } {
  let spec: { address?: string; port?: string };
  try {
    spec = splitBindSpec(v);
  } catch (e) {
    throw new InvalidArgumentError(`-p expects [ip:]port or [ipv6]:port: ${(e as Error).message}.`);
  }
  if (spec.port === undefined)
    throw new InvalidArgumentError(`-p expects [ip:]port or [ipv6]:port, got '${v}'.`);
  const port = intArg('-p', 0, MAX_PORT)(spec.port);
  return spec.address === undefined ? { port } : { address: spec.address, port };
}

/** Adds every option of n2n 3.1.1's supernode (supernode.c: getopt string and long_options) to `cmd`. */
function defineSupernodeOptions(cmd: Command): Command {
  defineObservabilityOptions(cmd, DEFAULT_SUPERNODE_HTTP_PORT);
  return cmd
    .option(
      '-p, --local-port <[ip:]port>',
      `UDP port to listen on (default ${DEFAULT_SUPERNODE_PORT})`,
      portArg,
    )
    .option('-F <name>', "federation name (default 'Federation'); env N2N_FEDERATION")
    .option('-l <host:port>', 'another supernode of the federation ([ipv6]:port too); repeatable', collect)
    .option('-m <mac>', 'fixed MAC address of the supernode (default random)')
    .option('-M', 'disable MAC and IP address spoofing protection for communities without users')
    .option('-V <text>', 'version text sent to edges (at most 19 characters)')
    .option('-c, --communities <path>', 'file of allowed communities (locks the supernode to them)')
    .option('-a, --autoip <min-max/bits>', 'auto-IP range (default 10.128.0.0-10.255.255.0/24)')
    .option('-f, --foreground', 'run in the foreground (always the case; accepted for compatibility)')
    .option(
      '-t, --mgmt-port <port>',
      `management UDP port (default ${DEFAULT_SUPERNODE_MGMT_PORT})`,
      intArg('-t', 0, MAX_PORT),
    )
    .option('--management-password <pw>', "management password for write requests (default 'n2n')")
    .option('-v, --verbose', 'more verbose logging; repeat as required', count)
    .option('-u, --euid <uid>', 'numeric user id to drop privileges to', intArg('-u', 0, MAX_ID))
    .option('-g, --egid <gid>', 'numeric group id to drop privileges to', intArg('-g', 0, MAX_ID))
    .option(
      '--max-edges-per-community <n>',
      'new edges refused beyond this many per community (default 1024)',
      intArg('--max-edges-per-community', 1, MAX_ID),
    )
    .option(
      '--max-edges <n>',
      'new edges refused beyond this many in total (default 16384)',
      intArg('--max-edges', 1, MAX_ID),
    )
    .option(
      '--max-communities <n>',
      'new communities refused beyond this many (default 4096)',
      intArg('--max-communities', 1, MAX_ID),
    )
    .option(
      '--new-edges-per-address <burst[/per-second]>',
      `new edges one sender IP address may register at once, then per second (default ${DEFAULT_NEW_EDGE_BURST}/${DEFAULT_NEW_EDGES_PER_SECOND})`,
      admissionArg,
    );
}

/** `--new-edges-per-address` parsed. */
interface Admission {
  burst: number;
  perSecond: number | undefined;
}

/** Parses `<burst>[/<per-second>]`, each a positive integer. */
function admissionArg(v: string): Admission {
  const m = /^(\d+)(?:\/(\d+))?$/.exec(v.trim());
  const burst = m ? Number(m[1]) : 0;
  const perSecond = m?.[2] !== undefined ? Number(m[2]) : undefined;
  if (!m || burst < 1 || burst > MAX_ID || (perSecond !== undefined && (perSecond < 1 || perSecond > MAX_ID)))
    throw new InvalidArgumentError(`expected <burst>[/<per-second>] with positive integers, got '${v}'`);
  return { burst, perSecond };
}

const MERGE_RULES: MergeRules = { lists: new Set(['l']), counts: new Set(['verbose']) };

/** Turns parsed flags (and N2N_FEDERATION) into library options; throws ConfigError. */
export function supernodeOptionsFromFlags(raw: RawOpts, env: NodeJS.ProcessEnv): SupernodeOptions {
  const p = raw.localPort as { address?: string; port: number } | undefined;
  const envFed = env.N2N_FEDERATION;
  const o: SupernodeOptions = {
    port: p?.port ?? DEFAULT_SUPERNODE_PORT,
    bindAddress: p?.address,
    // supernode.c derives the federation keys from N2N_FEDERATION (or the default) before -F is parsed.
    federation: (raw.F as string | undefined) ?? (envFed || undefined),
    federationKeyName: envFed || undefined,
    peers: (raw.l as string[] | undefined) ?? [],
    mac: raw.m as string | undefined,
    disableSpoofingProtection: raw.M === true,
    version: raw.V as string | undefined,
    communityFile: raw.communities as string | undefined,
    // 3.1.1 (N2N_HAVE_TCP, every non-Windows build) also listens for TCP edges on the same port.
    tcp: true,
    autoIpRange: raw.autoip as string | undefined,
    maxEdgesPerCommunity: raw.maxEdgesPerCommunity as number | undefined,
    maxEdges: raw.maxEdges as number | undefined,
    newEdgeBurst: (raw.newEdgesPerAddress as Admission | undefined)?.burst,
    newEdgesPerSecond: (raw.newEdgesPerAddress as Admission | undefined)?.perSecond,
    maxCommunities: raw.maxCommunities as number | undefined,
  };
  if (o.federation !== undefined && o.federation.replace(/^\*/, '').length === 0) {
    throw new ConfigError('-F needs a non-empty federation name');
  }
  return o;
}

async function runSupernode(configFile: string | undefined, cliOpts: RawOpts, cmd: Command): Promise<void> {
  let raw = cliOpts;
  if (configFile !== undefined) {
    raw = mergeOptions(
      parseConfigTokens(
        configFile,
        loadConfigFile(configFile, 'supernode'),
        defineSupernodeOptions(new Command('supernode')),
      ),
      cliOpts,
      cmd,
      MERGE_RULES,
    );
  }
  const options = supernodeOptionsFromFlags(raw, process.env);
  const observe = observabilityConfig(
    raw,
    process.env,
    (raw.mgmtPort as number | undefined) ?? DEFAULT_SUPERNODE_HTTP_PORT,
  );
  const logger = new StderrLogger(DEFAULT_LOG_LEVEL + ((raw.verbose as number | undefined) ?? 0));
  const mgmtPort = (raw.mgmtPort as number | undefined) ?? DEFAULT_SUPERNODE_MGMT_PORT;
  // TSN2N_NATIVE_RELAY=0 keeps every relayed packet on the JS path (supernode/fastrelay.ts), for comparison and as a
  // way out.
  const sn = new Supernode(
    options,
    process.env.TSN2N_NATIVE_RELAY === '0' ? { logger, openNativeRelay: undefined } : { logger },
  );
  // systemd Type=notify (deploy/systemd/): a no-op when not started by systemd.
  const notify = (state: string): boolean => sdNotify(state, process.env.NOTIFY_SOCKET);
  let mgmtSocket: Awaited<ReturnType<typeof openUdp>>;
  try {
    mgmtSocket = await openUdp({ family: 4, address: MGMT_ADDRESS, port: mgmtPort });
  } catch (err) {
    throw new Error(
      `cannot open the management port ${MGMT_ADDRESS}:${mgmtPort}: ${(err as Error).message} (use -t for another port)`,
    );
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (stopping === undefined) notify(SdState.STOPPING);
    stopping ??= sn.stop();
    return stopping;
  };
  const mgmt = new SupernodeManagement(sn, mgmtSocket, {
    password: raw.managementPassword as string | undefined,
    onStop: () => {
      logger.log(LogLevel.NORMAL, 'stop command received');
      notify(SdState.STOPPING);
    },
  });
  let obs: Awaited<ReturnType<typeof startSupernodeObservability>>;
  try {
    obs = await startSupernodeObservability(sn, observe, logger, () => {
      logger.log(LogLevel.NORMAL, 'stop requested over HTTP');
      void stop();
    });
  } catch (err) {
    mgmt.close();
    throw err;
  }
  const stopped = new Promise<void>((resolve) => sn.once('stopped', resolve));
  let signals = 0;
  const onSignal = (): void => {
    // A second signal leaves at once (supernode.c: term_handler).
    if (++signals > 1) process.exit(0);
    logger.log(LogLevel.NORMAL, 'shutting down...');
    void stop();
  };
  // supernode.c: dump_registrations on SIGHUP.
  const onHup = (): void => {
    const now = sn.nowSec();
    let id = 0;
    logger.log(LogLevel.NORMAL, '====================================');
    for (const c of sn.communityList()) {
      logger.log(LogLevel.NORMAL, `dumping community: ${c.name}`);
      for (const e of c.edges.values()) {
        const info = sn.edgeInfo(c, e);
        logger.log(
          LogLevel.NORMAL,
          `[id: ${++id}][MAC: ${info.mac}][edge: ${info.sockaddr}][last seen: ${now - e.lastSeen} sec ago]`,
        );
      }
    }
    logger.log(LogLevel.NORMAL, '====================================');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onHup);
  sn.on('edgeRegistered', (e) =>
    logger.log(LogLevel.INFO, `edge ${e.mac} registered in '${e.community}' from ${e.sockaddr}`),
  );
  sn.on('edgeExpired', (e) => logger.log(LogLevel.INFO, `edge ${e.mac} in '${e.community}' expired`));
  try {
    await sn.start();
  } catch (err) {
    mgmt.close();
    await obs.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onHup);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`cannot listen on UDP port ${options.port}: address in use (use -p for another port)`);
    }
    throw err;
  }
  obs.announce();
  if (sn.config.federationName === '*Federation') {
    logger.log(
      LogLevel.WARNING,
      'using default federation name; FOR TESTING ONLY, usage of a custom federation name (-F) is highly recommended!',
    );
  }
  if (sn.config.disableSpoofingProtection) {
    logger.log(
      LogLevel.WARNING,
      'disabled MAC and IP address spoofing protection; FOR TESTING ONLY, usage of user-password authentication (-I, -J, -P) recommended instead!',
    );
  }
  const main = sn.address!;
  const fed = sn.config;
  const communities = fed.communityFile
    ? `communities from ${fed.communityFile} (${sn.communityList().length - 1} fixed, ${sn.patternList().length} patterns)`
    : 'any community';
  logger.log(
    LogLevel.NORMAL,
    `supernode listening on UDP ${sockAddrToString(main)} (main), ${sockAddrToString(mgmt.address)} (management); ` +
      `federation '${fed.federationName}' with ${fed.peers.length} peer(s); ${communities}`,
  );
  notify(`${SdState.READY}\nSTATUS=listening on UDP ${sockAddrToString(main)}`);
  dropPrivileges(raw, logger);
  await stopped;
  mgmt.close();
  await obs.close();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onHup);
}

/** -u / -g: drop privileges once the sockets exist (only when given; 3.1.1 also tries user n2n/nobody). */
export function registerSupernode(program: Command): void {
  const cmd = program
    .command('supernode')
    .description(
      'n2n supernode: registers edges, relays their traffic, federates with other supernodes (n2n 3.1.1 options). ' +
        'A config file (one option per line, n2n format) may be given first. Without arguments it starts with ' +
        'the defaults (3.1.1 prints its help instead).',
    )
    .argument('[config-file]', 'n2n supernode configuration file, read before the other options');
  defineSupernodeOptions(cmd);
  // supernode.c prints its help when given no argument at all; we start with the defaults, in the foreground
  // like always (docs/supernode.md), so `tsn2n supernode` is the whole command of a lab or a systemd unit.
  cmd.action(async (configFile: string | undefined, opts: RawOpts) => {
    await runSupernode(configFile, opts, cmd);
  });
}
