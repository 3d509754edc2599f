// The CLI entry point: starts the server, announces where it is, stops cleanly on SIGTERM.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../support/repo-root.js';
import { makeTempDir } from '../../support/temp-dir.js';
import type { TempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const mainJs = join(repoRoot, 'dist', 'test', 'kit', 'apiserver', 'main.js');

describe('apiserver CLI', () => {
  const dirs: TempDir[] = [];
  const children: ChildProcess[] = [];
  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const dir of dirs) await dir.remove();
  });

  test('--state DIR: writes apiserver.json, prints it, serves kubectl, exits 0 on SIGTERM', async () => {
    const dir = await makeTempDir('apiserver-cli');
    dirs.push(dir);
    const state = join(dir.path, 'state');
    const child = spawn(process.execPath, [mainJs, '--state', state, '--listen', '127.0.0.1:0', '--service-cidr', '10.77.0.0/16', '--watch-window', '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    child.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
    const line = await waitFor(() => (stdout.includes('\n') ? stdout.split('\n')[0] : false), { what: 'the startup line', timeoutMs: 30_000 });
    const info = JSON.parse(line!);
    assert.equal(info.pid, child.pid);
    assert.match(info.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(info.kubeconfig, join(state, 'kubeconfig'));
    assert.deepEqual(JSON.parse(await readFile(join(state, 'apiserver.json'), 'utf8')), info);
    const { stdout: version } = await promisify(execFile)('kubectl', ['--kubeconfig', info.kubeconfig, '--cache-dir', join(dir.path, 'cache'), 'get', 'namespaces', '-o', 'name']);
    assert.match(version, /namespace\/default/);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  test('bad flags exit 2 with a usage message', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, [mainJs, '--listen', 'nonsense'], (err, _out, stderr) => resolve({ code: err ? (err as any).code : 0, stderr }));
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--state DIR is required|usage/);
  });
});
