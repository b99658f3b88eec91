// The daemons' --http / --http-token / --on-event flags: defaults, the token rule, the environment, config files.
import { describe, expect, it } from 'vitest';
import { configTextToArgs } from '../../src/cli/config.js';
import { parseEdgeArgs } from '../../src/cli/edge.js';
import { HTTP_TOKEN_ENV, observabilityConfig } from '../../src/cli/observe.js';
import { DEFAULT_EDGE_HTTP_PORT } from '../../src/management/http.js';
import { ConfigError } from '../../src/util/errors.js';

function cfg(args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof observabilityConfig> {
  return observabilityConfig(parseEdgeArgs(['-c', 'net', ...args], env).raw, env, DEFAULT_EDGE_HTTP_PORT);
}

describe('observability flags', () => {
  it('default to loopback on the management port number, no token, no hook', () => {
    expect(cfg([])).toEqual({ http: { host: '127.0.0.1', port: 5644 }, token: undefined, hook: undefined });
    expect(cfg(['--http', 'off']).http).toBeUndefined();
    expect(cfg(['--http', '9100']).http).toEqual({ host: '127.0.0.1', port: 9100 });
  });

  it('refuse a non-loopback address without a token, from the flag or the environment', () => {
    expect(() => cfg(['--http', '0.0.0.0:5644'])).toThrow(ConfigError);
    expect(() => cfg(['--http', '0.0.0.0:5644'])).toThrow(/not a loopback address.*--http-token/);
    expect(cfg(['--http', '0.0.0.0:5644', '--http-token', 'abc']).token).toBe('abc');
    expect(cfg(['--http', '0.0.0.0:5644'], { [HTTP_TOKEN_ENV]: 'fromenv' }).token).toBe('fromenv');
    // The flag wins over the environment.
    expect(cfg(['--http-token', 'flag'], { [HTTP_TOKEN_ENV]: 'env' }).token).toBe('flag');
  });

  it('split --on-event into words without a shell', () => {
    expect(cfg(['--on-event', "/usr/local/bin/n2n-hosts --file '/etc/hosts'"]).hook).toEqual([
      '/usr/local/bin/n2n-hosts',
      '--file',
      '/etc/hosts',
    ]);
    expect(() => cfg(['--on-event', "bad 'quote"])).toThrow(ConfigError);
  });

  it('come from config files; --on-event keeps its whole line in both programs', () => {
    const text = '--http=0.0.0.0:5645\n--http-token=t0k\n--on-event=/usr/bin/logger -t n2n\n';
    expect(configTextToArgs(text, 'supernode')).toEqual([
      '--http',
      '0.0.0.0:5645',
      '--http-token',
      't0k',
      '--on-event',
      '/usr/bin/logger -t n2n',
    ]);
    expect(configTextToArgs(text, 'edge')).toEqual(configTextToArgs(text, 'supernode'));
  });
});
