// Management layer: the shared UDP management protocol core and each program's commands.
export * from './core.js';
export * from './supernode.js';
