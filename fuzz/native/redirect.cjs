// Preload (node -r): loads our locally built libFuzzer addon where Jazzer.js would load its prebuilt one (glibc 2.38+ only).
const Module = require('node:module');
const path = require('node:path');

const BUILT = path.join(__dirname, 'build', 'Release', 'jazzer_fuzzer.node');
const PREBUILT = /[\\/]@jazzer\.js[\\/]fuzzer[\\/]prebuilds[\\/]fuzzer-[^\\/]+\.node$/;
const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveFuzzerAddon(request, ...rest) {
  return PREBUILT.test(request) ? BUILT : resolve.call(this, request, ...rest);
};
