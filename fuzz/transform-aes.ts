// Fuzz target: the aes payload transform's decrypt (pure TS and native core on the same bytes), and its round trip.
import { TransformId } from '../src/wire/types.js';
import { payloadTarget } from './payload.js';

const target = payloadTarget(TransformId.AES);
export const seeds = target.seeds;
export const fuzz = target.fuzz;
