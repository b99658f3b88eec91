// `tsn2n demo` options; the scenario itself (namespaces, NAT routers, supernode and two edges) is lab/demo.ts.
import { fileURLToPath } from 'node:url';
import { type Command, InvalidArgumentError } from 'commander';
import { runDemo } from '../lab/index.js';

const DEFAULT_CIPHER = 4;
const DEFAULT_IPERF_S = 3;
const MAX_IPERF_S = 60;

interface DemoFlags {
  cipher: number;
  time: number;
  verbose: boolean;
}

function intOption(name: string, min: number, max: number): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be ${min}…${max}`);
    return n;
  };
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'run a supernode and two edges behind NAT routers in network namespaces, show registration, P2P, ping and ' +
        'throughput, then clean up (needs root, iproute2, iptables or nft; iperf3 optional)',
    )
    .option(
      '-A, --cipher <n>',
      'payload cipher 1…5 (null, Twofish, AES, ChaCha20, Speck)',
      intOption('cipher', 1, 5),
      DEFAULT_CIPHER,
    )
    .option(
      '-t, --time <seconds>',
      'iperf3 duration (0 = skip)',
      intOption('time', 0, MAX_IPERF_S),
      DEFAULT_IPERF_S,
    )
    .option('-v, --verbose', 'echo the supernode and edge logs', false)
    .action(async (opts: DemoFlags) => {
      const mainJs = fileURLToPath(new URL('./main.js', import.meta.url));
      await runDemo({ ...opts, mainJs, say });
    });
}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}
