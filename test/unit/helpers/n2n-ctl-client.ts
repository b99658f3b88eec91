// A test client with the exact expectations of upstream's scripts/n2n-ctl (its RPC class), so CI checks them
// without the upstream script: one JSON object per datagram of at most 1024 bytes, the first datagram tagged
// for us, `begin`, then `row`s, then `end` (an `error` before `begin` fails at once, after it at `end`).
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** n2n-ctl reads with recvfrom(1024): a longer reply would be cut and fail to parse. */
const N2N_CTL_RECV_BYTES = 1024;
const REPLY_TIMEOUT_MS = 3000;

/** Upstream's script when a checkout of n2n 3.1.1 sits beside the project (developer machines), else undefined. */
export function upstreamN2nCtl(): string | undefined {
  const p =
    process.env.N2N_CTL ??
    resolve(dirname(fileURLToPath(import.meta.url)), '../../../../upstream/scripts/n2n-ctl');
  return existsSync(p) ? p : undefined;
}

export class N2nCtlClient {
  private tag = 0;
  constructor(
    private readonly port: number,
    private readonly key?: string,
  ) {}

  read(cmdline: string): Promise<Record<string, unknown>[]> {
    return this.call('r', cmdline);
  }

  write(cmdline: string): Promise<Record<string, unknown>[]> {
    return this.call('w', cmdline);
  }

  private call(type: 'r' | 'w', cmdline: string): Promise<Record<string, unknown>[]> {
    const tag = String(this.tag);
    this.tag = (this.tag + 1) % 1000;
    const options = this.key === undefined ? tag : `${tag}:1:${this.key}`;
    const sock = createSocket('udp4');
    return new Promise((resolvePromise, reject) => {
      const rows: Record<string, unknown>[] = [];
      let seenBegin = false;
      let error: Error | undefined;
      const done = (err: Error | undefined): void => {
        clearTimeout(timer);
        sock.close();
        if (err) reject(err);
        else resolvePromise(rows);
      };
      const timer = setTimeout(() => done(new Error(`no complete reply to '${cmdline}'`)), REPLY_TIMEOUT_MS);
      sock.on('message', (msg) => {
        if (msg.length > N2N_CTL_RECV_BYTES) {
          done(
            new Error(`reply datagram of ${msg.length} bytes: n2n-ctl reads at most ${N2N_CTL_RECV_BYTES}`),
          );
          return;
        }
        const data = JSON.parse(msg.toString('utf8')) as Record<string, unknown>;
        if (!seenBegin) {
          if (data._tag !== tag)
            return done(new Error(`first reply tagged ${String(data._tag)}, not ${tag}`));
          if (data._type === 'error') return done(new Error(`Error: ${String(data.error)}`));
          if (data._type !== 'begin') return done(new Error(`unknown reply type ${String(data._type)}`));
          seenBegin = true;
          return;
        }
        if (data._tag !== tag) return;
        if (data._type === 'error') {
          error = new Error(`Error: ${String(data.error)}`);
          return;
        }
        if (data._type === 'end') return done(error);
        if (data._type !== 'row') return done(new Error(`unknown reply type ${String(data._type)}`));
        const { _tag, _type, ...row } = data;
        rows.push(row);
      });
      sock.send(`${type} ${options} ${cmdline}`, this.port, '127.0.0.1');
    });
  }
}
