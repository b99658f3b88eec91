// Management layer: the UDP management protocol (core and the supernode's commands), HTTP API, metrics, hooks, views.
export * from './core.js';
export * from './hooks.js';
export * from './http.js';
export * from './http-api.js';
export * from './metrics.js';
export * from './status-client.js';
export * from './supernode.js';
export * from './views.js';
