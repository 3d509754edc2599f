// An upgrade to a build whose maps have another layout (here: weft_svc sized differently, built
// from the same sources with -DWEFT_MAX_SVCS): libbpf cannot reuse the old pinned maps, so
// the new build pins its own set beside them. Loading must not fail (no crash loop), the pod
// stays redirected by the old programs until its link is moved, is redirected by the new
// programs (their own maps) after, never holds two attachments, and the old pins go once
// nothing uses them. Needs root and clang (CI has both).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { arch } from 'node:os';
import { basename, join } from 'node:path';
import { origDstCodec, peerKeyCodec, svcKeyCodec } from '../../agent/src/bpf/abi.js';
import { RedirectPrograms } from '../../agent/src/bpf/redirect-programs.js';
import * as libbpf from '../../native/src/libbpf.js';
import { repoRoot } from '../support/repo-root.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { KernelFixture } from './kernel-fixture.js';

const world = new KernelFixture('wt-layout');
const serviceIp = '10.96.0.20';
let variantDir: TempDir;
let podCgroup: string;
const loaded: RedirectPrograms[] = [];

/** The same sources as `make bpf`, with one map resized: a second layout. */
function buildVariant(outDir: string): void {
  const multiarch = arch() === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  for (const source of readdirSync(join(repoRoot, 'bpf')).filter((f) => f.endsWith('.bpf.c'))) {
    execFileSync('clang', [
      '-O2', '-g', '-Wall', '-Werror', '-target', 'bpf', `-I${join(repoRoot, 'bpf', 'include')}`, `-I/usr/include/${multiarch}`,
      '-DWEFT_MAX_SVCS=4096', '-c', join(repoRoot, 'bpf', source), '-o', join(outDir, `${basename(source, '.c')}.o`),
    ]);
  }
}

function load(objectDir: string): RedirectPrograms {
  const programs = RedirectPrograms.load({
    objectDir,
    pinDir: world.pinDir,
    config: { agentCgroupId: 0n, proxyIp4: world.nodeIp, proxyPort: 15001 },
  });
  loaded.push(programs);
  return programs;
}

/** Connects from the pod to the Service; returns whether `programs`' maps recorded it. */
async function connectRecordedBy(programs: RedirectPrograms, proxy: { lines: string[] }): Promise<boolean> {
  const before = proxy.lines.length;
  const conn = await world.connectFrom(podCgroup, serviceIp, 80);
  try {
    assert.deepEqual(conn.peer, [serviceIp, 80], 'the application sees the Service it dialled');
    await waitFor(() => proxy.lines.length > before, { what: 'the proxy accepting the redirected connection' });
    const value = new Uint8Array(origDstCodec.size);
    return libbpf.mapLookup(programs.mapFds.weft_peer_dst, peerKeyCodec.encode({ ip4: conn.local[0], port: conn.local[1] }), value);
  } finally {
    conn.release();
  }
}

before(async () => {
  world.setup();
  podCgroup = world.cgroup('pod');
  variantDir = await makeTempDir('bpf-layout-variant');
  buildVariant(variantDir.path);
});

after(async () => {
  for (const programs of loaded) programs.close();
  if (existsSync(world.pinDir)) RedirectPrograms.removeAll(world.pinDir);
  await world.cleanup();
  await variantDir?.remove();
});

test('a build with another map layout loads beside the old pins, takes over each pod atomically, then removes the old pins', async () => {
  const proxy = await world.startListener(world.nodeIp, 15001);
  const previous = load(join(repoRoot, 'bpf', 'build'));
  libbpf.mapUpdate(previous.mapFds.weft_svc, svcKeyCodec.encode({ ip4: serviceIp, port: 80 }), Uint8Array.of(1));
  previous.attach('pod-a', podCgroup);
  assert.equal(await connectRecordedBy(previous, proxy), true, 'redirected by the first build');
  previous.close(); // the old agent exits; its pins stay

  const next = load(variantDir.path);
  assert.notEqual(next.mapLayout, previous.mapLayout, 'the variant has another layout');
  assert.deepEqual(readdirSync(join(world.pinDir, 'maps')).sort(), [previous.mapLayout, next.mapLayout].sort());
  // Before its link moves, the pod is still redirected, by the old programs and maps.
  assert.equal(await connectRecordedBy(next, proxy), false, 'not yet through the new programs');

  // What the agent does on its first snapshot: fill the maps, then move the links.
  libbpf.mapUpdate(next.mapFds.weft_svc, svcKeyCodec.encode({ ip4: serviceIp, port: 80 }), Uint8Array.of(1));
  next.attach('pod-a', podCgroup);
  assert.equal(await connectRecordedBy(next, proxy), true, 'redirected by the new programs, recorded in the new maps');
  const attachments = execFileSync('bpftool', ['cgroup', 'show', podCgroup], { encoding: 'utf8' });
  assert.equal(attachments.match(/weft_connect4_re/g)?.length, 1, `one connect4 attachment, not two:\n${attachments}`);

  assert.deepEqual(next.removeStaleMapPins(), [previous.mapLayout]);
  assert.deepEqual(readdirSync(join(world.pinDir, 'maps')), [next.mapLayout]);
  assert.equal(await connectRecordedBy(next, proxy), true, 'still redirected after the old pins are gone');
});
