// The container mount setup script, run for real (root): under unshare as the kubelet runs it,
// with volumes at a path that does not exist on the host and over an existing mount point whose
// source lies below it. The host's mount table and /run are checked to be untouched.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { UNSHARE_MOUNT, mountSetupScript, type ContainerMount } from './container-mounts.js';
import { CGROUP_V2_ROOT, BPFFS_ROOT } from '../bed-naming.js';
import { ensureBpffsMounted } from '../bpffs.js';
import { makeTempDir, type TempDir } from '../../../support/temp-dir.js';
import { uniqueName } from '../../../support/unique-name.js';

const execFileAsync = promisify(execFile);

let work: TempDir;
let cgroupDir: string;
let bpffsSource: string;
const name = uniqueName('mounts-test');

async function runInContainer(mounts: ContainerMount[], command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const stage = join(work.path, 'stage');
  await mkdir(stage, { recursive: true });
  const script = mountSetupScript(mounts, stage);
  try {
    // As the kubelet starts it: from the node root (here cgroupDir), into the container's cgroup.
    const { stdout, stderr } = await execFileAsync('sh', ['-c', 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"', 'sh', cgroupDir,
      ...UNSHARE_MOUNT, 'sh', '-c', script, 'sh', join(cgroupDir, 'container'), 'sh', '-c', command], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function hostMounts(): Promise<string> {
  return readFile('/proc/self/mountinfo', 'utf8');
}

before(async () => {
  work = await makeTempDir('container-mounts');
  cgroupDir = join(CGROUP_V2_ROOT, name);
  await mkdir(join(cgroupDir, 'container'), { recursive: true });
  await ensureBpffsMounted();
  bpffsSource = join(BPFFS_ROOT, name);
  await mkdir(join(bpffsSource, 'marker'), { recursive: true });
});

after(async () => {
  await rm(bpffsSource, { recursive: true, force: true });
  for (const dir of [join(cgroupDir, 'container'), cgroupDir]) {
    await rmdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  await work?.remove();
});

describe('mountSetupScript', () => {
  test('rejects relative, root and ".." mount paths', () => {
    for (const target of ['relative/path', '/', '/a/../b']) {
      assert.throws(() => mountSetupScript([{ source: '/tmp', target, readOnly: false, kind: 'dir' }], '/tmp'), /mountPath/);
    }
  });

  test('a read-only volume at a path missing on the host is there inside, and the host is untouched', async () => {
    const source = join(work.path, 'token-volume');
    await mkdir(source);
    await writeFile(join(source, 'token'), 'the-token');
    const hadRunSecrets = existsSync('/run/secrets');
    const mountsBefore = await hostMounts();
    const target = `/var/run/secrets/${name}/ca-token`;
    const result = await runInContainer([{ source, target, readOnly: true, kind: 'dir' }],
      `cat ${target}/token; echo; if touch ${target}/new 2>/dev/null; then echo writable; else echo read-only; fi; ls /run/netns >/dev/null && echo run-intact; grep '^0::' /proc/self/cgroup`);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n');
    assert.equal(lines[0], 'the-token');
    assert.equal(lines[1], 'read-only');
    assert.equal(lines[2], 'run-intact', 'the rest of /run is still visible inside');
    assert.equal(lines[3], '0::/container', 'the cgroup namespace is rooted where the container was started, and it sits in its cgroup');
    assert.equal(existsSync('/run/secrets'), hadRunSecrets, 'no /run/secrets on the host');
    assert.equal(existsSync(join(source, 'new')), false);
    assert.equal(await hostMounts(), mountsBefore, 'the host mount table is unchanged');
  });

  test('a volume over a mount point whose source lies below it replaces the mount point', async () => {
    const mountsBefore = await hostMounts();
    const result = await runInContainer([{ source: bpffsSource, target: '/sys/fs/bpf', readOnly: false, kind: 'dir' }],
      `ls /sys/fs/bpf; stat -f -c %T /sys/fs/bpf; grep -c ' /sys/fs/bpf ' /proc/self/mountinfo; mkdir /sys/fs/bpf/made-inside`);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), ['marker', 'bpf_fs', '1']);
    assert.ok(existsSync(join(bpffsSource, 'made-inside')), 'what the container creates lands in the source directory');
    assert.equal(await hostMounts(), mountsBefore, 'the host mount table is unchanged');
  });
});
