// Library entry point: `import { Edge, Supernode } from 'tsn2n'`; the layers below are exposed as namespaces.

export * as crypto from './crypto/index.js';
export type { EdgeDeps } from './edge/deps.js';
export type {
  PeerChange,
  PeerEvent,
  PeerStateEvent,
  RegisteredEvent,
  UnregisteredEvent,
} from './edge/edge.js';
export {
  Edge,
  EdgeState,
  PeerAction,
  PeerDownReason,
  PeerPath,
  PeerStateChange,
  UnregisterReason as EdgeUnregisterReason,
} from './edge/edge.js';
export type { EdgeConfig, EdgeOptions, EdgeRoute } from './edge/options.js';
export { AddressMode, Selection } from './edge/options.js';
export * as io from './io/index.js';
export * as management from './management/index.js';
export { SupernodeManagement } from './management/supernode.js';

export { defaultSupernodeDeps } from './supernode/deps.js';
export type { SupernodeConfig, SupernodeOptions } from './supernode/options.js';
export type { EdgeInfo, SupernodeDeps, SupernodeEvents, UnregisterReason } from './supernode/supernode.js';
export { Supernode } from './supernode/supernode.js';
export * as transform from './transform/index.js';
export type { Clock } from './util/clock.js';
export { FakeClock, SystemClock } from './util/clock.js';
export { ConfigError, WireError, WireErrorCode } from './util/errors.js';
export * as util from './util/index.js';
export type { Logger } from './util/log.js';
export type { Random } from './util/random.js';
export { SeededRandom, SystemRandom } from './util/random.js';
export * as wire from './wire/index.js';
