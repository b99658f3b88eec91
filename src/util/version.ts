// The package's version, read once from its package.json (`tsn2n --version`, tsn2n_build_info, the status API).
import { readFileSync } from 'node:fs';

/** The version when package.json cannot be read (a build laid out differently, e.g. dist-bench). */
export const UNKNOWN_VERSION = 'unknown';

/** package.json two levels up: from src/util in the repository and from dist/util in the package alike. */
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);

function readVersion(): string {
  try {
    const v = (JSON.parse(readFileSync(PACKAGE_JSON, 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : UNKNOWN_VERSION;
  } catch {
    return UNKNOWN_VERSION;
  }
}

export const VERSION: string = readVersion();
