// Fuzz target: the twofish payload transform's decrypt (pure TS and native core on the same bytes), and its round trip.
import { TransformId } from '../src/wire/types.js';
import { payloadTarget } from './payload.js';

const target = payloadTarget(TransformId.TWOFISH);
export const seeds = target.seeds;
export const fuzz = target.fuzz;
