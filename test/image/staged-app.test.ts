// The app as the image carries it (`make dist` -> out/weft/, copied to /app by the Dockerfile):
// run from anywhere through a link, as /usr/local/bin/weft is in the image, it finds its bpf
// objects, libbpf and the CA's .proto, and carries no tests and no development packages.
// `make test` runs `make dist` first, so this checks exactly what would ship.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { repoRoot } from '../support/repo-root.js';

const execFileAsync = promisify(execFile);
const app = join(repoRoot, 'out', 'weft');
let bin: TempDir;
let weft: string;

before(async () => {
  assert.ok(existsSync(join(app, 'bin', 'weft')), `${app} is missing: run make dist (make test does)`);
  // A link in another directory, as the image links /usr/local/bin/weft to /app/bin/weft.
  bin = await makeTempDir('image-bin');
  weft = join(bin.path, 'weft');
  symlinkSync(join(app, 'bin', 'weft'), weft);
});

after(async () => {
  await bin?.remove();
});

test('weft check from the staged app finds its own bpf objects and the verifier loads them', async () => {
  const { stdout } = await execFileAsync(weft, ['check'], { cwd: bin.path });
  assert.match(stdout, new RegExp(`^ok +bpf objects +${join(app, 'bpf', 'build').replaceAll('/', '\\/')}$`, 'm'));
  assert.match(stdout, /^ok +libbpf /m);
  assert.match(stdout, /^ok +load programs +the verifier accepted every program/m);
});

test('weft ca in the staged app loads its gRPC service from the shipped .proto', async () => {
  const script = `import(${JSON.stringify(join(app, 'dist', 'agent', 'src', 'identity', 'ca-proto.js'))}).then((m) => { m.certificateServiceDefinition(); console.log(m.CA_PROTO_PATH); })`;
  const { stdout } = await execFileAsync(process.execPath, ['-e', script], { cwd: bin.path });
  assert.equal(stdout.trim(), join(app, 'proto', 'weft', 'ca', 'v1', 'ca.proto'));
  const help = await execFileAsync(weft, ['ca', '--help'], { cwd: bin.path });
  assert.match(help.stdout, /^usage: weft ca/m);
});

test('the staged app has no tests and no development packages', () => {
  assert.deepEqual(readdirSync(join(app, 'dist')).sort(), ['agent', 'native']);
  for (const devOnly of ['typescript', 'kubernetes-models', '@aws-cdk/lambda-layer-kubectl-v32']) {
    assert.equal(existsSync(join(app, 'node_modules', devOnly, 'package.json')), false, `${devOnly} is a development package`);
  }
  for (const runtime of ['koffi', '@grpc/grpc-js', '@kubernetes/client-node', 'pino', 'prom-client']) {
    assert.ok(existsSync(join(app, 'node_modules', runtime, 'package.json')), `${runtime} ships`);
  }
});
