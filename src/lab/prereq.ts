// What the lab needs from the host: root, iproute2, ping, iptables or nft, /dev/net/tun; and finding tools on PATH.
import { accessSync, constants as fsConstants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where tools live besides PATH (a non-root PATH may lack the sbin directories). */
const SYSTEM_BIN_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];
/** uid of root. */
const ROOT_UID = 0;

/** Finds an executable on PATH (also the sbin directories, which a non-root PATH may lack). */
export function findExecutable(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(SYSTEM_BIN_DIRS);
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
  return { root: typeof process.getuid === 'function' && process.getuid() === ROOT_UID, missing, tun };
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
