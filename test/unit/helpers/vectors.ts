// Where the tests find the reference vectors: test/vectors/ inside the repository (see its README).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of test/vectors (captures from n2n 3.1.1 and upstream's expected test outputs). */
export const VECTORS: string = resolve(dirname(fileURLToPath(import.meta.url)), '../../vectors');
