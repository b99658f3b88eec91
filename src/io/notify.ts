// systemd service readiness (Type=notify): READY=1 / STOPPING=1 / STATUS=… to $NOTIFY_SOCKET through the addon.
import { addonAvailable, loadAddon } from './addon.js';

/*
 * The protocol (sd_notify(3), systemd.service(5) Type=notify): newline-separated KEY=VALUE assignments in one
 * datagram to the AF_UNIX SOCK_DGRAM socket named by $NOTIFY_SOCKET; a name starting with '@' lives in the
 * abstract namespace. systemd checks that the sender is the service's main process (NotifyAccess=main), which the
 * node process started by ExecStart is. Node has no unix datagram sockets, so the addon sends it (socket, sendto,
 * close): no dependency on libsystemd.
 */

/** Readiness states (sd_notify(3)). */
export const SdState = {
  /** Start-up is finished: the units ordered after this one may start. */
  READY: 'READY=1',
  /** The service is shutting down. */
  STOPPING: 'STOPPING=1',
} as const;

/**
 * Sends `state` (e.g. `READY=1`, or several lines `READY=1\nSTATUS=…`) to `notifySocket` (the caller's
 * `$NOTIFY_SOCKET`). Returns true when the datagram left; false when there is no socket to tell (not started by
 * systemd), the addon is not built, the address is unusable (e.g. a `vsock:` address of newer systemd), or
 * sendto failed. Never throws: readiness is best effort and must not stop the service.
 */
export function sdNotify(state: string, notifySocket: string | undefined): boolean {
  if (notifySocket === undefined || notifySocket === '' || !addonAvailable()) return false;
  if (notifySocket[0] !== '/' && notifySocket[0] !== '@') return false;
  try {
    return loadAddon().notifySocket(notifySocket, state) === Buffer.byteLength(state);
  } catch {
    return false;
  }
}
