// Test helper: a systemd-like notify socket (AF_UNIX SOCK_DGRAM) held by python3, since Node cannot bind one.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One received notification: its text and the sender's pid from SCM_CREDENTIALS (what systemd checks). */
export interface Notification {
  pid: number | null;
  data: string;
}

// Binds the socket (a path, or '@name' in the abstract namespace), asks for sender credentials like systemd
// (SO_PASSCRED), says "ready", then prints each datagram as a JSON line until stdin closes.
const RECEIVER_PY = `
import json, os, select, socket, struct, sys
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind('\\0' + path[1:] if path.startswith('@') else path)
print('ready', flush=True)
while True:
    r, _, _ = select.select([s, sys.stdin], [], [])
    if sys.stdin in r and not os.read(sys.stdin.fileno(), 1):
        break
    if s in r:
        data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
        pid = None
        for level, kind, d in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack('iII', d[:12])[0]
        print(json.dumps({'pid': pid, 'data': data.decode()}), flush=True)
`;

export class NotifyReceiver {
  private readonly queue: Notification[] = [];
  private waiter: (() => void) | undefined;

  private constructor(
    readonly path: string,
    private readonly child: ChildProcess,
  ) {}

  /** Starts python3 bound to `path`; resolves once the socket exists. */
  static async open(path: string): Promise<NotifyReceiver> {
    const child = spawn('python3', ['-c', RECEIVER_PY, path], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    let r: NotifyReceiver | undefined;
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`notify receiver exited with ${code}`)));
      lines.on('line', (line) => {
        if (line === 'ready') {
          resolve();
          return;
        }
        r?.queue.push(JSON.parse(line) as Notification);
        r?.waiter?.();
      });
    });
    r = new NotifyReceiver(path, child);
    return r;
  }

  /** The next notification, or an error after `timeoutMs`. */
  async next(timeoutMs = 10_000): Promise<Notification> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no notification on ${this.path} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift()!;
  }

  /** Waits for a notification whose text contains `text` (earlier ones are dropped). */
  async until(text: string, timeoutMs = 10_000): Promise<Notification> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const n = await this.next(Math.max(1, deadline - Date.now()));
      if (n.data.includes(text)) return n;
    }
  }

  /** Notifications received and not yet taken. */
  pending(): readonly Notification[] {
    return this.queue;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    await exited;
  }
}
