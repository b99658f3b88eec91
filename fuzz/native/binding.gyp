# Builds jazzer_fuzzer.node: Jazzer.js 4.0.0's libFuzzer addon (vendored in jazzer/, Apache-2.0) on Debian's stock libFuzzer. Run by fuzz/run.mjs when missing.
{
  'variables': {
    # libclang-rt-14-dev (Debian 12); LIBFUZZER_A overrides.
    'libfuzzer_a%': '<!(node libfuzzer-path.cjs)',
  },
  'targets': [
    {
      'target_name': 'jazzer_fuzzer',
      'sources': [
        'jazzer/addon.cpp',
        'jazzer/fuzzing_async.cpp',
        'jazzer/fuzzing_sync.cpp',
        'jazzer/utils.cpp',
        'jazzer/shared/callbacks.cpp',
        'jazzer/shared/coverage.cpp',
        'jazzer/shared/sanitizer_symbols.cpp',
        'jazzer/shared/tracing.cpp',
        'libfuzzer-shim.cpp',
      ],
      'include_dirs': ['include', "<!(node -p \"require(require.resolve('node-addon-api', {paths: [require.resolve('@jazzer.js/fuzzer')]})).include_dir\")"],
      'defines': ['NAPI_VERSION=4', 'NAPI_CPP_EXCEPTIONS'],
      'cflags!': ['-fno-exceptions'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-std=gnu++17', '-std=gnu++20'],
      'cflags_cc': ['-std=c++17', '-fexceptions', '-O2'],
      'libraries': ['-Wl,--whole-archive', '<(libfuzzer_a)', '-Wl,--no-whole-archive', '-lpthread'],
    },
  ],
}
