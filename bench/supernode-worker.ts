// Worker thread for bench/supernode.ts: one Supernode on 127.0.0.1 with real sockets, on its own core.
import { parentPort, workerData } from 'node:worker_threads';
import { Supernode } from '../src/supernode/supernode.js';

interface WorkerData {
  communityFile?: string;
}

const data = workerData as WorkerData;
const sn = new Supernode({
  port: 0,
  bindAddress: '127.0.0.1',
  communityFile: data.communityFile,
  // The registration benchmark registers far more edges than the defaults allow.
  maxEdgesPerCommunity: 10_000_000,
  maxEdges: 10_000_000,
});
await sn.start();
parentPort!.postMessage({ port: sn.address!.port });
parentPort!.on('message', (m: string) => {
  if (m === 'stats') {
    parentPort!.postMessage({
      stats: { fwd: sn.stats.fwd, regSuper: sn.stats.regSuper, dropped: sn.stats.dropped },
    });
  } else if (m === 'stop') {
    void sn.stop().then(() => process.exit(0));
  }
});
