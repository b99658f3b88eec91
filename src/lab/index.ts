// The network-namespace lab (demo, e2e suite, bench:tunnel): its public API. Only cli/ (and tests, bench) import it.
export * from './lab.js';
