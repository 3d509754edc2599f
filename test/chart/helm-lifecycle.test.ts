// `helm install`, `helm upgrade` and `helm uninstall` of charts/weft against an API server (the
// in-repo one, test/kit/apiserver): the rendered objects are accepted and stored, an upgrade changes
// the agent's DaemonSet in place, a bad value refuses the upgrade and leaves the release alone,
// and an uninstall removes every object the chart created, cluster-scoped RBAC included.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startApiServer, type ApiServerHandle } from '../kit/index.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { chartDir, parseManifests, runHelm, templateArgs, type KubeObject } from './helm-render.js';

const NAMESPACE = 'weft-system';

function kubectl(kubeconfig: string, args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new Error(`cannot run kubectl: ${error.message}`));
        return;
      }
      resolve({ exitCode: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

describe('helm install / upgrade / uninstall against an API server', () => {
  let dir: TempDir;
  let server: ApiServerHandle | undefined;
  let helmEnv: NodeJS.ProcessEnv;
  let manifestFile: string;
  let rendered: KubeObject[];

  before(async () => {
    dir = await makeTempDir('chart-lifecycle');
    server = await startApiServer({ stateDir: join(dir.path, 'apiserver') });
    // Helm's own state (cache, config, data) stays in the temp dir, not in $HOME.
    helmEnv = {
      KUBECONFIG: server.kubeconfigPath,
      HELM_CACHE_HOME: join(dir.path, 'helm-cache'),
      HELM_CONFIG_HOME: join(dir.path, 'helm-config'),
      HELM_DATA_HOME: join(dir.path, 'helm-data'),
    };
    const template = await runHelm(templateArgs({ namespace: NAMESPACE }));
    assert.equal(template.exitCode, 0, template.stderr);
    rendered = parseManifests(template.stdout);
    manifestFile = join(dir.path, 'rendered.yaml');
    await writeFile(manifestFile, template.stdout);
  });

  after(async () => {
    await server?.close();
    await dir?.remove();
  });

  const helm = (args: string[]) => runHelm(args, helmEnv);
  const agentEnv = async (name: string) => {
    const result = await kubectl(server!.kubeconfigPath, ['-n', NAMESPACE, 'get', 'daemonset', 'weft-agent', '-o', 'json']);
    assert.equal(result.exitCode, 0, result.stderr);
    const daemonSet = JSON.parse(result.stdout);
    const env = daemonSet.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === name);
    return { value: env?.value as string | undefined, generation: daemonSet.metadata.generation as number };
  };

  test('install: every rendered object is accepted and stored', async () => {
    const install = await helm(['install', 'weft', chartDir, '--namespace', NAMESPACE, '--create-namespace']);
    assert.equal(install.exitCode, 0, install.stderr);
    assert.match(install.stdout, /STATUS: deployed/);
    assert.match(install.stdout, /kubectl -n weft-system rollout status daemonset\/weft-agent/, 'NOTES.txt renders');
    const stored = await kubectl(server!.kubeconfigPath, ['get', '-f', manifestFile, '-o', 'json']);
    assert.equal(stored.exitCode, 0, stored.stderr);
    const items: KubeObject[] = JSON.parse(stored.stdout).items;
    assert.deepEqual(
      items.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
      rendered.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
    );
    for (const item of items) assert.equal(item.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm');
    assert.equal((await agentEnv('WEFT_CA_ADDRESS')).value, 'weft-ca.weft-system.svc:15012');
  });

  test('upgrade: a new value reaches the DaemonSet in place', async () => {
    const before = await agentEnv('WEFT_LOG_LEVEL');
    assert.equal(before.value, 'info');
    const upgrade = await helm(['upgrade', 'weft', chartDir, '--namespace', NAMESPACE, '--set', 'agent.logLevel=debug']);
    assert.equal(upgrade.exitCode, 0, upgrade.stderr);
    assert.match(upgrade.stdout, /REVISION: 2/);
    const after = await agentEnv('WEFT_LOG_LEVEL');
    assert.equal(after.value, 'debug');
    assert.equal(after.generation, before.generation + 1);
  });

  test('upgrade with a bad value is refused and changes nothing', async () => {
    const upgrade = await helm(['upgrade', 'weft', chartDir, '--namespace', NAMESPACE, '--set', 'agent.logLevel=loud']);
    assert.notEqual(upgrade.exitCode, 0);
    assert.match(upgrade.stderr, /agent\.logLevel must be one of the following/);
    assert.equal((await agentEnv('WEFT_LOG_LEVEL')).value, 'debug');
    const history = await helm(['history', 'weft', '--namespace', NAMESPACE, '--output', 'json']);
    assert.equal(history.exitCode, 0, history.stderr);
    assert.deepEqual(JSON.parse(history.stdout).map((r: { revision: number; status: string }) => [r.revision, r.status]), [
      [1, 'superseded'],
      [2, 'deployed'],
    ]);
  });

  test('uninstall removes every object the chart created', async () => {
    // A plain uninstall: helm deletes the objects, then purges its release Secrets (a delete
    // with a protobuf DeleteOptions body).
    const uninstall = await helm(['uninstall', 'weft', '--namespace', NAMESPACE]);
    assert.equal(uninstall.exitCode, 0, uninstall.stderr);
    const left = await kubectl(server!.kubeconfigPath, ['get', '-f', manifestFile, '--ignore-not-found', '-o', 'name']);
    assert.equal(left.exitCode, 0, left.stderr);
    assert.equal(left.stdout.trim(), '', `left behind after uninstall:\n${left.stdout}`);
    const list = await helm(['list', '--all', '--namespace', NAMESPACE, '--output', 'json']);
    assert.deepEqual(JSON.parse(list.stdout), [], 'the release history is purged too');
  });
});
