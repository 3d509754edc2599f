import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAgentConfig } from '../../agent/src/config/agent-config.js';
import { ConfigError } from '../../agent/src/config/command-flags.js';

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
