// `tsn2n status`: the local daemon's state as a table (or --json), from its HTTP API or its UDP management port.
import { Command } from 'commander';
import {
  DEFAULT_EDGE_HTTP_PORT,
  DEFAULT_HTTP_HOST,
  DEFAULT_SUPERNODE_HTTP_PORT,
} from '../management/http.js';
import {
  fetchHttpStatus,
  fetchUdpStatus,
  renderStatus,
  STATUS_TIMEOUT_MS,
  StatusError,
  type StatusReport,
} from '../management/status-client.js';
import { ConfigError } from '../util/errors.js';
import { intArg, MAX_PORT } from './common.js';
import { HTTP_TOKEN_ENV } from './observe.js';

/** Longest --timeout accepted. */
const MAX_STATUS_TIMEOUT_MS = 60_000;

/** `[host:]port`, `[v6]:port` or `host`; the port defaults to none (both defaults are tried). */
function parseTarget(spec: string): { host: string; port?: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(spec);
  if (v6) return { host: v6[1], port: v6[2] === undefined ? undefined : Number(v6[2]) };
  if (/^\d+$/.test(spec)) return { host: DEFAULT_HTTP_HOST, port: Number(spec) };
  const i = spec.lastIndexOf(':');
  if (i > 0 && spec.indexOf(':') === i) {
    const port = Number(spec.slice(i + 1));
    if (!Number.isInteger(port) || port < 1 || port > MAX_PORT)
      throw new ConfigError(`status: bad port in '${spec}'`);
    return { host: spec.slice(0, i), port };
  }
  return { host: spec };
}

interface StatusOpts {
  json?: boolean;
  udp?: boolean;
  token?: string;
  timeout?: number;
}

/**
 * Asks each port in turn, HTTP first, then the UDP management port (an n2n 3.1.1 daemon has only that); the
 * first answer wins. A daemon that answers but refuses (a token is needed) ends the search with its error.
 */
export async function queryStatus(
  host: string,
  ports: readonly number[],
  opts: { udpOnly: boolean; token: string | undefined; timeoutMs: number },
): Promise<StatusReport> {
  const tried: string[] = [];
  for (const port of ports) {
    if (!opts.udpOnly) {
      try {
        return await fetchHttpStatus(host, port, opts.token, opts.timeoutMs);
      } catch (err) {
        if (!(err instanceof StatusError) || !err.unreachable) throw err;
        tried.push(`HTTP ${err.message}`);
      }
    }
    try {
      return await fetchUdpStatus(host, port, opts.timeoutMs);
    } catch (err) {
      if (!(err instanceof StatusError) || !err.unreachable) throw err;
      tried.push(`UDP ${err.message}`);
    }
  }
  throw new StatusError(`no tsn2n or n2n daemon answered (${tried.join('; ')})`, true);
}

export function registerStatus(program: Command, write: (s: string) => void): void {
  program.addCommand(
    new Command('status')
      .description(
        `show the local edge's or supernode's state: its HTTP API (default 127.0.0.1:${DEFAULT_EDGE_HTTP_PORT}, ` +
          `then :${DEFAULT_SUPERNODE_HTTP_PORT}), else its UDP management port (n2n 3.1.1)`,
      )
      .argument('[address]', 'the daemon as ADDR:PORT, PORT or ADDR')
      .option('--json', 'print the JSON status instead of the table')
      .option('--udp', 'ask the UDP management port only (what an n2n 3.1.1 edge or supernode has)')
      .option('--token <token>', `bearer token of the HTTP API; env ${HTTP_TOKEN_ENV}`)
      .option(
        '--timeout <ms>',
        `per request (default ${STATUS_TIMEOUT_MS})`,
        intArg('--timeout', 1, MAX_STATUS_TIMEOUT_MS),
      )
      .action(async (address: string | undefined, opts: StatusOpts) => {
        const target = address === undefined ? { host: DEFAULT_HTTP_HOST } : parseTarget(address);
        const ports =
          target.port !== undefined ? [target.port] : [DEFAULT_EDGE_HTTP_PORT, DEFAULT_SUPERNODE_HTTP_PORT];
        const report = await queryStatus(target.host, ports, {
          udpOnly: opts.udp === true,
          token: opts.token ?? (process.env[HTTP_TOKEN_ENV] || undefined),
          timeoutMs: opts.timeout ?? STATUS_TIMEOUT_MS,
        });
        write(
          opts.json
            ? `${JSON.stringify({ source: report.source, address: report.address, ...report.status }, null, 2)}\n`
            : renderStatus(report),
        );
      }),
  );
}
