// Library entry point: `import { Edge, Supernode } from 'tsn2n'`.
export * from './util/index.js';
export * from './wire/types.js';
