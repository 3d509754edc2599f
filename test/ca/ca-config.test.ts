import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCaConfig } from '../../agent/src/config/ca-config.js';
import { parseDurationSeconds } from '../../agent/src/config/duration.js';
import { ConfigError } from '../../agent/src/config/command-flags.js';

test('defaults match the contract: weft-system, cluster.local, 24 h, audience weft-ca', () => {
  const config = loadCaConfig([], { KUBERNETES_SERVICE_HOST: '10.96.0.1' });
  assert.equal(config.kubeconfig, undefined, 'in-cluster');
  assert.equal(config.namespace, 'weft-system');
  assert.equal(config.trustDomain, 'cluster.local');
  assert.equal(config.defaultTtlSeconds, 86_400);
  assert.equal(config.maxTtlSeconds, 86_400);
  assert.equal(config.audience, 'weft-ca');
  assert.equal(config.agentServiceAccount, 'system:serviceaccount:weft-system:weft-agent');
  assert.deepEqual(config.ipSans, []);
  assert.equal(config.port, 15012);
});

test('flags win over the environment; durations go down to a minute', () => {
  const config = loadCaConfig(['--default-ttl', '60s', '--max-ttl=1h30m', '--ip-san', '127.0.0.1,::1', '--port', '0'], { WEFT_CA_DEFAULT_TTL: '2h', WEFT_TRUST_DOMAIN: 'example.org', KUBECONFIG: '/k' });
  assert.equal(config.kubeconfig, '/k');
  assert.equal(config.defaultTtlSeconds, 60);
  assert.equal(config.maxTtlSeconds, 5_400);
  assert.deepEqual(config.ipSans, ['127.0.0.1', '::1']);
  assert.equal(config.port, 0);
  assert.equal(config.trustDomain, 'example.org');
  assert.equal(parseDurationSeconds('3600'), 3600);
  assert.equal(parseDurationSeconds('1d'), undefined);
});

test('bad flags are errors naming the flag', () => {
  const cases: [string[], RegExp][] = [
    [['--nope'], /unknown flag --nope/],
    [['--namespace'], /--namespace needs a value/],
    [['--default-ttl', '30s'], /--default-ttl .* at least 60s/],
    [['--max-ttl', 'soon'], /--max-ttl .* must be a duration/],
    [['--default-ttl', '2h', '--max-ttl', '1h'], /--default-ttl .* must not exceed --max-ttl/],
    [['--ip-san', 'localhost'], /--ip-san .* IP addresses/],
    [['--port', '70000'], /--port .* 0-65535/],
    [['--trust-domain', 'Bad Domain'], /--trust-domain/],
    [['--agent-service-account', 'weft-agent'], /--agent-service-account .* system:serviceaccount/],
    [[], /--kubeconfig .* required outside a cluster/],
  ];
  for (const [argv, message] of cases) {
    assert.throws(() => loadCaConfig(argv, {}), (err: unknown) => err instanceof ConfigError && message.test(err.message), argv.join(' '));
  }
});
