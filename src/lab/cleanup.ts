// Teardown of lab namespaces: listing and deleting them, leftovers of dead runs, and the exit/signal hooks.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { killNow } from './processes.js';

/** Every namespace we create starts with this, then the owner's pid, so a later run can tell ours from others. */
export const LAB_NS_PREFIX = 'tsn2nlab-';
/** Exit status a shell reports for a process killed by SIGINT (128 + 2). */
const EXIT_SIGINT = 130;
/** Exit status after SIGTERM or SIGHUP. */
const EXIT_FAILURE = 1;
/** Signals that tear every live lab down before the process exits. */
const TEARDOWN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** What the exit and signal hooks need of a lab. */
export interface SyncTeardown {
  /** SIGKILL everything, delete the namespaces; must not throw. */
  destroySync(): void;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Names of all network namespaces (`ip netns list`); empty if that fails. */
export function listNamespaces(): string[] {
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
export function removeNamespaceSync(ns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', ns], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    for (const p of pids.split('\n')) {
      const pid = Number(p);
      if (pid > 0 && pid !== process.pid) killNow(pid);
    }
  } catch {
    // namespace already gone
  }
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  // Per-namespace /etc files (Lab.hostsFile) that `ip netns exec` mounts over /etc.
  rmSync(`${NETNS_ETC_DIR}/${ns}`, { recursive: true, force: true });
}

/** Where `ip netns exec NAME` finds files it bind-mounts over /etc (ip-netns(8)). */
export const NETNS_ETC_DIR = '/etc/netns';

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

/** The namespace prefix of a new lab: `tsn2nlab-<our pid>-<random>-`, so cleanupLeftovers can tell whose it is. */
export function newLabPrefix(): string {
  const rand = Math.floor(Math.random() * 0xffff)
    .toString(16)
    .padStart(4, '0');
  return `${LAB_NS_PREFIX}${process.pid}-${rand}-`;
}

const liveLabs = new Set<SyncTeardown>();
let hooksInstalled = false;

/** The only place the lab hooks this process's exit and signals: each tears down every live lab. */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const lab of liveLabs) lab.destroySync();
  });
  for (const sig of TEARDOWN_SIGNALS) {
    process.on(sig, () => {
      for (const lab of liveLabs) lab.destroySync();
      process.exit(sig === 'SIGINT' ? EXIT_SIGINT : EXIT_FAILURE);
    });
  }
}

/** Tracks a live lab for the exit/signal teardown; installs the hooks (once per process) if `hooks` is set. */
export function trackLab(lab: SyncTeardown, hooks: boolean): void {
  liveLabs.add(lab);
  if (hooks) installExitHooks();
}

/** A lab that has been torn down. */
export function untrackLab(lab: SyncTeardown): void {
  liveLabs.delete(lab);
}
