# Builds tsn2n_io.node: TAP device (with offloads) and batched UDP I/O for Linux, payload cipher cores, the edge's fast path and the supernode's relay of plain PACKETs, the systemd notify datagram (no protocol logic). Run by `npm install`.
{
  'targets': [
    {
      'target_name': 'tsn2n_io',
      'sources': [
        'src/addon.cc',
        'src/errors.cc',
        'src/netif.cc',
        'src/frames.cc',
        'src/poller.cc',
        'src/udp.cc',
        'src/crypto.cc',
        'src/header.cc',
        'src/fastpath.cc',
        'src/sendruns.cc',
        'src/stamps.cc',
        'src/snrelay.cc',
        'src/tapoffload.cc',
        'src/notify.cc',
      ],
      'dependencies': ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      'defines': ['NAPI_VERSION=8'],
      'cflags!': ['-fno-exceptions', '-O3'],
      'cflags_cc!': ['-fno-exceptions', '-fno-rtti', '-O3'],
      # cflags reach both C and C++ sources in gyp's make generator.
      'cflags': ['-O2', '-Wall', '-Wextra', '-Wno-unused-parameter'],
    },
  ],
}
