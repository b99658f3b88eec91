// The edge's state file: the registration token kept across restarts, so a supernode recognises a restarted edge.
//
// A crashed edge (SIGKILL, OOM, reboot) sends no UNREGISTER_SUPER; its entry stays at the supernode until it
// expires, and a new registration of the same MAC or address is only accepted when it presents the same auth
// token (sn_utils.c: update_edge → auth_edge; the same in src/supernode/registry.ts). edge_utils.c: edge_init draws
// a new random token at every start; we draw it once and keep it here (docs/reliability.md).
import { randomFillSync } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { AUTH_TOKEN_BYTES } from '../edge/options.js';
import { type Logger, LogLevel } from '../util/log.js';

/** Where the state lives without --state-file: beside the config file, else here. */
export const STATE_DIR = '/var/lib/tsn2n';
/** --state-file none: keep nothing (a fresh token at every start, like n2n). */
export const NO_STATE = 'none';
const STATE_VERSION = 1;
/** Owner read/write only: the token proves the edge's identity to the supernode. */
const STATE_FILE_MODE = 0o600;
const STATE_DIR_MODE = 0o700;

export function defaultStatePath(
  configFile: string | undefined,
  device: string,
  stateDir = STATE_DIR,
): string {
  return configFile !== undefined ? `${configFile}.state` : join(stateDir, `${device}.state`);
}

function parseToken(text: string): Uint8Array | undefined {
  const j = JSON.parse(text) as { version?: unknown; authToken?: unknown };
  if (j.version !== STATE_VERSION || typeof j.authToken !== 'string') return undefined;
  if (!/^[0-9a-f]+$/.test(j.authToken) || j.authToken.length !== AUTH_TOKEN_BYTES * 2) return undefined;
  const t = Buffer.from(j.authToken, 'hex');
  return t.every((b) => b === 0) ? undefined : new Uint8Array(t);
}

/**
 * The token from `path`, or a new one written there (atomically, mode 0600). Any failure is logged and the
 * edge runs with a fresh token that is not kept: a restart then waits for the old entry to expire, as in n2n.
 */
export function loadOrCreateToken(path: string, logger: Logger): Uint8Array {
  try {
    const t = parseToken(readFileSync(path, 'utf8'));
    if (t !== undefined) return t;
    logger.log(LogLevel.WARNING, `state file ${path}: not understood, writing a new one`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      logger.log(LogLevel.WARNING, `state file ${path}: ${(err as Error).message}; writing a new one`);
  }
  const token = new Uint8Array(AUTH_TOKEN_BYTES);
  randomFillSync(token);
  try {
    mkdirSync(dirname(path), { recursive: true, mode: STATE_DIR_MODE });
    const tmp = `${path}.${process.pid}.tmp`;
    const body = JSON.stringify({ version: STATE_VERSION, authToken: Buffer.from(token).toString('hex') });
    writeFileSync(tmp, `${body}\n`, { mode: STATE_FILE_MODE });
    renameSync(tmp, path);
  } catch (err) {
    logger.log(
      LogLevel.WARNING,
      `cannot write the state file ${path} (${(err as Error).message}): a restarted edge is refused by the ` +
        'supernode until its old registration expires (use --state-file)',
    );
  }
  return token;
}
