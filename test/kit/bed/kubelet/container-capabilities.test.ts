// The capability set the bed's kubelet gives a container, as containerd would, and that it is
// really all the process gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { RUNTIME_DEFAULT_CAPABILITIES, containerCapabilities, withCapabilities } from './container-capabilities.js';

test('runtime defaults, minus drop (ALL drops every one), plus add; privileged keeps all', () => {
  assert.deepEqual(containerCapabilities(undefined), [...RUNTIME_DEFAULT_CAPABILITIES].sort());
  assert.deepEqual(containerCapabilities({ capabilities: { drop: ['ALL'], add: ['BPF', 'CAP_NET_ADMIN'] } }), ['BPF', 'NET_ADMIN']);
  assert.ok(!(containerCapabilities({ capabilities: { drop: ['NET_RAW'] } }) as string[]).includes('NET_RAW'));
  assert.equal(containerCapabilities({ privileged: true, capabilities: { drop: ['ALL'] } }), 'all');
});

test('the command runs with exactly those capabilities', () => {
  const command = withCapabilities(['grep', '^CapEff:', '/proc/self/status'], ['BPF', 'NET_ADMIN']);
  const line = execFileSync(command[0]!, command.slice(1), { encoding: 'utf8' });
  assert.equal(BigInt(`0x${line.trim().split(/\s+/)[1]}`), (1n << 12n) | (1n << 39n));
  assert.deepEqual(withCapabilities(['true'], 'all'), ['true']);
});
