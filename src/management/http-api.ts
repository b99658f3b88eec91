// The routes of each daemon's HTTP API (/api/v1/<name>): the management commands' data as JSON, and their writes.
import type { Edge } from '../edge/edge.js';
import type { Supernode } from '../supernode/supernode.js';
import { type Logger, LogLevel } from '../util/log.js';
import type { ApiResult, HttpApp } from './http.js';
import type { DaemonMetrics } from './metrics.js';
import {
  edgeDropsView,
  edgePeerViews,
  edgeStatusView,
  edgeSupernodeViews,
  edgeTrafficView,
  snCommunityViews,
  snDropsView,
  snEdgeViews,
  snFederationViews,
  snStatsView,
  supernodeStatusView,
} from './views.js';

/** Highest trace level `POST verbose` sets (debug). */
const MAX_TRACE_LEVEL = LogLevel.DEBUG;

export interface ApiOptions {
  version: string;
  metrics: DaemonMetrics;
  /** Stops the daemon (called after the answer is sent). */
  stop: () => void;
}

function ok(body: unknown, status = 200): ApiResult {
  return { status, body };
}

function fail(status: number, error: string): ApiResult {
  return { status, body: { error } };
}

/** `POST verbose {"level": n}`: sets the logger's level; answers the level now. */
function verbose(logger: Logger, body: Record<string, unknown>): ApiResult {
  const level = body.level;
  if (level !== undefined) {
    if (typeof level !== 'number' || !Number.isInteger(level) || level < 0 || level > MAX_TRACE_LEVEL) {
      return fail(400, `level must be an integer 0..${MAX_TRACE_LEVEL}`);
    }
    logger.level = level;
  }
  return ok({ traceLevel: Math.max(0, logger.level) });
}

/** `POST stop`: answers, then stops the daemon once the answer is out. */
function stopLater(stop: () => void): ApiResult {
  setImmediate(stop);
  return ok({ stopping: true }, 202);
}

/** The edge's API. */
export function edgeHttpApp(edge: Edge, options: ApiOptions): HttpApp {
  return {
    metrics: () => options.metrics.scrape(),
    reads: {
      status: () => edgeStatusView(edge, options.version),
      edges: () => edgePeerViews(edge),
      supernodes: () => edgeSupernodeViews(edge),
      communities: () => ({ community: edge.headerEncryption ? null : edge.config.community }),
      timestamps: () => ({ startTime: edge.startTime, lastSuper: edge.lastSup, lastP2p: edge.lastP2p }),
      packetstats: () => edgeTrafficView(edge),
      drops: () => edgeDropsView(edge),
      verbose: () => ({ traceLevel: Math.max(0, edge.logger.level) }),
    },
    writes: {
      stop: () => stopLater(options.stop),
      verbose: (body) => verbose(edge.logger, body),
      // Like the management port: a supernode command.
      reload_communities: () => fail(501, 'reload_communities is a supernode command'),
    },
  };
}

/** The supernode's API. */
export function supernodeHttpApp(sn: Supernode, options: ApiOptions): HttpApp {
  return {
    metrics: () => options.metrics.scrape(),
    reads: {
      status: () => supernodeStatusView(sn, options.version),
      edges: () => snEdgeViews(sn),
      communities: () => snCommunityViews(sn),
      supernodes: () => snFederationViews(sn),
      timestamps: () => ({
        startTime: sn.startTime,
        lastForward: sn.stats.lastFwd,
        lastRegistration: sn.stats.lastRegSuper,
      }),
      packetstats: () => snStatsView(sn),
      drops: () => snDropsView(sn),
      verbose: () => ({ traceLevel: Math.max(0, sn.logger.level) }),
    },
    writes: {
      stop: () => stopLater(options.stop),
      verbose: (body) => verbose(sn.logger, body),
      reload_communities: () => {
        if (sn.config.communityFile === undefined) return fail(409, 'no community file (-c)');
        const rc = sn.reloadCommunities();
        if (rc !== 0)
          return fail(
            422,
            `the community file was not reloaded (${rc === -1 ? 'unreadable' : 'no valid entry'})`,
          );
        return ok({ reloaded: true, communities: snCommunityViews(sn).length });
      },
    },
  };
}
