// The daemons' observability flags (--http, --http-token, --on-event): parsing, and starting the HTTP server and hooks.
import type { Command } from 'commander';
import type { Edge } from '../edge/edge.js';
import {
  attachEdgeHooks,
  attachSupernodeHooks,
  edgeHookCommon,
  HookRunner,
  splitCommand,
} from '../management/hooks.js';
import {
  checkHttpListen,
  HTTP_OFF,
  type HttpApp,
  type HttpListen,
  HttpServer,
  parseHttpListen,
} from '../management/http.js';
import { edgeHttpApp, supernodeHttpApp } from '../management/http-api.js';
import { edgeMetrics, supernodeMetrics } from '../management/metrics.js';
import type { Supernode } from '../supernode/supernode.js';
import { type Logger, LogLevel } from '../util/log.js';
import { VERSION } from '../util/version.js';
import type { RawOpts } from './common.js';

/** The environment variable that may carry the token instead of the command line (not visible in `ps`). */
export const HTTP_TOKEN_ENV = 'TSN2N_HTTP_TOKEN';
/** On stop, queued hooks (e.g. peer_down of every peer) get this long to run before the process exits. */
const HOOK_DRAIN_MS = 5_000;

/** Adds --http, --http-token and --on-event to a daemon's command. */
export function defineObservabilityOptions(cmd: Command, defaultPort: number): Command {
  return cmd
    .option(
      '--http <addr:port|off>',
      `HTTP server for /metrics, /api/v1/ and the status page (default 127.0.0.1 on TCP port ${defaultPort}, or ` +
        `the -t port's number when -t is given; '${HTTP_OFF}' disables it)`,
    )
    .option(
      '--http-token <token>',
      `bearer token for the HTTP server; needed off loopback; env ${HTTP_TOKEN_ENV}`,
    )
    .option(
      '--on-event <command>',
      'run this command (no shell; words split on blanks, quotes group) on each event, facts in TSN2N_* variables',
    );
}

/** What the flags ask for, checked before the daemon starts (ConfigError: one line, exit 2). */
export interface ObservabilityConfig {
  /** Undefined: --http off. */
  http: HttpListen | undefined;
  token: string | undefined;
  /** The --on-event command as words; undefined when not given. */
  hook: string[] | undefined;
}

/**
 * `defaultPort` is the daemon's management port (-t, or its default): TCP here, so one -t per instance on a host
 * keeps both apart.
 */
export function observabilityConfig(
  raw: RawOpts,
  env: NodeJS.ProcessEnv,
  defaultPort: number,
): ObservabilityConfig {
  const http = parseHttpListen((raw.http as string | undefined) ?? `127.0.0.1:${defaultPort}`, defaultPort);
  const token = (raw.httpToken as string | undefined) ?? (env[HTTP_TOKEN_ENV] || undefined);
  if (http !== undefined) checkHttpListen(http, token);
  const onEvent = raw.onEvent as string | undefined;
  return { http, token, hook: onEvent === undefined ? undefined : splitCommand(onEvent) };
}

/** The running HTTP server and hook runner of a daemon. */
export interface Observability {
  /** Says where the HTTP server listens; called once the daemon has started (a failed start says only why). */
  announce(): void;
  close(): Promise<void>;
}

async function startHttp(
  cfg: ObservabilityConfig,
  app: HttpApp,
  logger: Logger,
): Promise<HttpServer | undefined> {
  if (cfg.http === undefined) return undefined;
  try {
    const server = await HttpServer.start({
      ...cfg.http,
      token: cfg.token,
      app,
      onError: (err) => logger.log(LogLevel.WARNING, `http: ${(err as Error)?.stack ?? err}`),
    });
    return server;
  } catch (err) {
    throw new Error(
      `cannot open the HTTP port ${cfg.http.host}:${cfg.http.port}: ${(err as Error).message} (use --http ADDR:PORT or --http off)`,
    );
  }
}

function hookRunner(
  cfg: ObservabilityConfig,
  logger: Logger,
  common: () => Record<string, string | undefined>,
): HookRunner | undefined {
  if (cfg.hook === undefined) return undefined;
  return new HookRunner({ argv: cfg.hook, baseEnv: process.env, common, logger });
}

function closer(
  http: HttpServer | undefined,
  hooks: HookRunner | undefined,
  detach: () => void,
  logger: Logger,
): Observability {
  return {
    announce(): void {
      if (http === undefined) return;
      const a = http.address;
      logger.log(LogLevel.NORMAL, `http on ${a.host}:${a.port} (/metrics, /api/v1/, status page)`);
    },
    async close(): Promise<void> {
      detach();
      await hooks?.close(HOOK_DRAIN_MS);
      await http?.close();
    },
  };
}

/** Starts the edge's HTTP server and hooks (before `edge.start()`, so the first events are seen). */
export async function startEdgeObservability(
  edge: Edge,
  cfg: ObservabilityConfig,
  logger: Logger,
  stop: () => void,
): Promise<Observability> {
  const hooks = hookRunner(cfg, logger, () => edgeHookCommon(edge));
  const detach = hooks ? attachEdgeHooks(edge, hooks) : () => {};
  const metrics = edgeMetrics(edge, { version: VERSION, hooks: () => hooks?.stats });
  try {
    const http = await startHttp(cfg, edgeHttpApp(edge, { version: VERSION, metrics, stop }), logger);
    return closer(http, hooks, detach, logger);
  } catch (err) {
    detach();
    throw err;
  }
}

/** Starts the supernode's HTTP server and hooks. */
export async function startSupernodeObservability(
  sn: Supernode,
  cfg: ObservabilityConfig,
  logger: Logger,
  stop: () => void,
): Promise<Observability> {
  const hooks = hookRunner(cfg, logger, () => ({ DAEMON: 'supernode' }));
  const detach = hooks ? attachSupernodeHooks(sn, hooks) : () => {};
  const metrics = supernodeMetrics(sn, { version: VERSION, hooks: () => hooks?.stats });
  try {
    const http = await startHttp(cfg, supernodeHttpApp(sn, { version: VERSION, metrics, stop }), logger);
    return closer(http, hooks, detach, logger);
  } catch (err) {
    detach();
    throw err;
  }
}
