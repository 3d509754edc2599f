import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgentConfig } from '../../agent/src/config/agent-config.js';
import { ConfigError } from '../../agent/src/config/command-flags.js';
import { cpuQuota, cpusAvailable } from '../../agent/src/config/cpus-available.js';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { makeTempDir } from '../support/temp-dir.js';

const base = ['--node-name', 'node-1', '--node-ip', '10.0.0.5'];

test('flags, env fallbacks and defaults make a complete config', () => {
  const config = loadAgentConfig([...base, '--admin-port=15999'], { WEFT_BPFFS_DIR: '/sys/fs/bpf/x' }, '/objs');
  assert.equal(config.nodeName, 'node-1');
  assert.equal(config.nodeIp, '10.0.0.5');
  assert.equal(config.adminPort, 15999);
  assert.equal(config.outboundPort, 15001);
  assert.equal(config.bpffsDir, '/sys/fs/bpf/x');
  assert.equal(config.bpfObjectDir, '/objs');
  assert.equal(config.kubeconfig, undefined);
});

test('bad input stops with a message naming the flag and the variable', () => {
  assert.throws(() => loadAgentConfig(['--node-name', 'node-1'], {}, '/o'), (err: unknown) =>
    err instanceof ConfigError && /--node-ip \(or WEFT_NODE_IP\) is required/.test(err.message));
  assert.throws(() => loadAgentConfig([...base.slice(0, 2), '--node-ip', '10.0.0'], {}, '/o'), /must be an IPv4 address, got "10.0.0"/);
  assert.throws(() => loadAgentConfig([...base, '--admin-port', '70000'], {}, '/o'), /--admin-port \(or WEFT_ADMIN_PORT\) must be a port/);
  assert.throws(() => loadAgentConfig([...base, '--frobnicate', 'x'], {}, '/o'), /unknown flag --frobnicate/);
  assert.throws(() => loadAgentConfig([...base, '--kubeconfig'], {}, '/o'), /--kubeconfig needs a value/);
  assert.throws(() => loadAgentConfig([...base, '--log-level', 'loud'], {}, '/o'), /--log-level must be one of/);
});

test('without --ca-address the agent has no CA; with it, the CA settings come from flags and env', () => {
  const plain = loadAgentConfig(base, {}, '/o');
  assert.equal(plain.ca, undefined);
  assert.equal(plain.trustDomain, 'cluster.local');
  assert.equal(plain.hbonePort, 15008);
  const config = loadAgentConfig([...base, '--ca-address', '10.240.0.11:15012', '--cert-ttl', '90s'], { WEFT_CA_TOKEN_FILE: '/run/token', WEFT_TRUST_DOMAIN: 'example.org' }, '/o');
  assert.deepEqual(config.ca, {
    address: '10.240.0.11:15012',
    serverName: undefined,
    tokenFile: '/run/token',
    namespace: 'weft-system',
    certTtlSeconds: 90,
  });
  assert.equal(config.trustDomain, 'example.org');
  assert.equal(loadAgentConfig([...base, '--ca-address=weft-ca.weft-system.svc:15012'], {}, '/o').ca?.certTtlSeconds, 24 * 3600);
});

test('bad CA and identity settings stop with a message naming the flag', () => {
  assert.throws(() => loadAgentConfig([...base, '--ca-address', 'weft-ca'], {}, '/o'), /--ca-address \(or WEFT_CA_ADDRESS\) must be host:port, got "weft-ca"/);
  assert.throws(() => loadAgentConfig([...base, '--ca-address', 'ca:99999'], {}, '/o'), /must be host:port/);
  assert.throws(() => loadAgentConfig([...base, '--ca-address', 'ca:1', '--cert-ttl', '30s'], {}, '/o'), /--cert-ttl \(or WEFT_CERT_TTL\) must be a duration of at least 60s/);
  assert.throws(() => loadAgentConfig([...base, '--ca-address', 'ca:1', '--cert-ttl', '1d'], {}, '/o'), /--cert-ttl .* got "1d"/);
  assert.throws(() => loadAgentConfig([...base, '--trust-domain', 'Bad Domain'], {}, '/o'), /--trust-domain \(or WEFT_TRUST_DOMAIN\) must be a SPIFFE trust domain/);
  assert.throws(() => loadAgentConfig([...base, '--hbone-port', '0'], {}, '/o'), /--hbone-port \(or WEFT_HBONE_PORT\) must be a port/);
});

test('the agent\'s own pod comes from the downward API env, both names or neither', () => {
  assert.equal(loadAgentConfig(base, {}, '/o').pod, undefined);
  assert.deepEqual(loadAgentConfig(base, { WEFT_POD_NAME: 'weft-agent-x1', WEFT_POD_NAMESPACE: 'weft-system' }, '/o').pod, { namespace: 'weft-system', name: 'weft-agent-x1' });
  assert.throws(() => loadAgentConfig(base, { WEFT_POD_NAME: 'weft-agent-x1' }, '/o'), /--pod-name \(WEFT_POD_NAME\) and --pod-namespace \(WEFT_POD_NAMESPACE\) go together/);
});

test('proxy workers: "auto" is one per CPU the agent may use, a number is taken as given, anything else is refused', () => {
  assert.equal(loadAgentConfig(base, {}, '/o').proxyWorkers, cpusAvailable());
  assert.equal(loadAgentConfig([...base, '--proxy-workers', '3'], {}, '/o').proxyWorkers, 3);
  assert.equal(loadAgentConfig(base, { WEFT_PROXY_WORKERS: '1' }, '/o').proxyWorkers, 1);
  for (const bad of ['0', '-1', '1.5', 'many', '65', '']) {
    assert.throws(() => loadAgentConfig([...base, `--proxy-workers=${bad}`], {}, '/o'),
      /--proxy-workers \(or WEFT_PROXY_WORKERS\) must be "auto" or a whole number 1-64|--proxy-workers needs a value|is required/, `"${bad}" is refused`);
  }
});

test('the CPUs the agent may use: its affinity, capped by its cgroup\'s cpu.max quota, rounded up', async (t) => {
  const temp = await makeTempDir('cpus');
  const dir = temp.path;
  t.after(() => temp.remove());
  const write = (text: string): string => {
    writeFileSync(join(dir, 'cpu.max'), text);
    return join(dir, 'cpu.max');
  };
  assert.equal(cpuQuota(write('max 100000\n')), undefined, 'no limit');
  assert.equal(cpuQuota(write('150000 100000\n')), 2, '1.5 CPUs round up to 2');
  assert.equal(cpuQuota(write('50000 100000\n')), 1);
  assert.equal(cpuQuota(join(dir, 'missing')), undefined, 'no cpu controller: no quota known');
  write('50000 100000\n');
  assert.equal(cpusAvailable(dir, '/'), 1, 'a half-CPU limit gives one worker whatever the affinity');
  assert.equal(cpusAvailable(join(dir, 'no-cpu-controller'), '/'), availableParallelism(), 'without a quota, the affinity decides');
});
