// Peer layer: pieces shared by edge and supernode above the transforms.
export * from './seal.js';
