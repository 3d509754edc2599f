// `weft check` run as an operator would, as root on this machine (CI is root): every
// requirement holds here, so it must say ok for each and exit 0; a missing piece (the bpf
// objects) must be named and make it exit 1; a bad flag exits 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/repo-root.js';

const cli = join(repoRoot, 'dist', 'agent', 'src', 'cli', 'main.js');

function weft(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

test('reports each requirement and passes on this node', async () => {
  const result = await weft(['check', '--json']);
  const checks = JSON.parse(result.stdout) as { name: string; ok: boolean; detail: string }[];
  assert.deepEqual(checks.map((c) => c.name), ['kernel', 'BTF', 'cgroup v2', 'bpffs', 'capabilities', 'bpf objects', 'libbpf', 'load programs']);
  for (const check of checks) assert.ok(check.ok, `${check.name}: ${check.detail}`);
  assert.equal(result.code, 0);
});

test('names what is missing and exits 1; a bad flag exits 2', async () => {
  const missing = await weft(['check', '--bpf-object-dir', '/nonexistent/weft-objects']);
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /FAIL\s+bpf objects\s+not found in \/nonexistent\/weft-objects \(run make\)/);
  const bad = await weft(['check', '--colour']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown argument --colour/);
});
