// The network-namespace lab (demo, e2e suite, bench:tunnel): its public API. Only cli/ (and tests, bench) import it.
export { cleanupLeftovers, LAB_NS_PREFIX } from './cleanup.js';
export type { DemoOptions } from './demo.js';
export { runDemo } from './demo.js';
export type { LabHost, LabOptions, NatRouter } from './lab.js';
export { Lab, splitCidr } from './lab.js';
export { NatKind } from './nat.js';
export type { Prerequisites } from './prereq.js';
export { checkPrerequisites, describeMissing, findExecutable } from './prereq.js';
export type { IperfResult, PingOptions, PingResult, ProcStats, TransferResult } from './probes.js';
export {
  iperf3,
  mgmtRaw,
  mgmtRead,
  PING_PROGRESS_RE,
  parseJsonDatagrams,
  parsePing,
  ping,
  pingAnswered,
  procStats,
  sleep,
  tcpTransfer,
  waitFor,
  waitForPing,
} from './probes.js';
export type { ExecOptions, ExecResult, SpawnOptions } from './processes.js';
export { LabError, LabProcess } from './processes.js';
