// `up --from-chart`: installs the Weft Helm chart the way `helm install` would put it on a
// cluster - render with `helm template` (scripts/helm.sh), create the release namespace, apply the
// chart's crds/ first and then every rendered object with kubectl - so the bed runs exactly the
// RBAC, commands, flags, env and volumes the chart renders.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { runHostCommand } from './host-command.js';
import { repoRoot } from '../../support/repo-root.js';

export const CHART_DIR = join(repoRoot, 'charts', 'weft');
export const RELEASE_NAME = 'weft';
export const RELEASE_NAMESPACE = 'weft-system';
const HELM = join(repoRoot, 'scripts', 'helm.sh');
const KUBECTL_TIMEOUT_MS = 120_000;

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

/** `helm template <release> <chart> -n <ns> [-f values]`: the manifests, as one YAML stream. */
export async function renderChart(valuesFile: string | null, chartDir = CHART_DIR): Promise<string> {
  const args = ['template', RELEASE_NAME, chartDir, '-n', RELEASE_NAMESPACE];
  if (valuesFile) args.push('-f', valuesFile);
  return (await runHostCommand(HELM, args, { timeoutMs: 120_000 })).stdout;
}

/** The objects of a YAML stream (empty documents, as helm leaves for disabled templates, skipped). */
export function parseManifests(text: string): RenderedObject[] {
  const objects: RenderedObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered chart is not valid YAML: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as RenderedObject | null;
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || !value.kind || !value.apiVersion || !value.metadata?.name) {
      throw new Error(`rendered chart has a document without apiVersion, kind and metadata.name: ${JSON.stringify(value).slice(0, 200)}`);
    }
    objects.push(value);
  }
  return objects;
}

async function kubectl(kubeconfig: string, args: string[], input?: string): Promise<string> {
  return (await runHostCommand('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeoutMs: KUBECTL_TIMEOUT_MS, input })).stdout;
}

/** The chart's crds/*.yaml|yml|json files (helm installs them before the templates, never templated). */
async function crdFiles(chartDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(join(chartDir, 'crds'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => /\.(ya?ml|json)$/.test(n)).sort().map((n) => join(chartDir, 'crds', n));
}

export interface ChartInstallOptions {
  kubeconfig: string;
  valuesFile: string | null;
  chartDir?: string;
  log: (msg: string, fields?: object) => void;
}

/** Renders and applies the chart; returns the rendered objects (what to wait for). */
export async function installChart(options: ChartInstallOptions): Promise<RenderedObject[]> {
  const chartDir = options.chartDir ?? CHART_DIR;
  const manifests = await renderChart(options.valuesFile, chartDir);
  const objects = parseManifests(manifests);
  await kubectl(options.kubeconfig, ['create', 'namespace', RELEASE_NAMESPACE, '--dry-run=client', '-o', 'yaml'])
    .then((ns) => kubectl(options.kubeconfig, ['apply', '-f', '-'], ns));
  const crds = await crdFiles(chartDir);
  if (crds.length > 0) {
    await kubectl(options.kubeconfig, ['apply', ...crds.flatMap((file) => ['-f', file])]);
    await kubectl(options.kubeconfig, ['wait', '--for', 'condition=Established', '--timeout', '60s', ...crds.flatMap((file) => ['-f', file])]);
    options.log('chart CRDs applied', { files: crds });
  }
  await kubectl(options.kubeconfig, ['apply', '-f', '-'], manifests);
  options.log('chart applied', { objects: objects.map((o) => `${o.kind}/${o.metadata.name}`) });
  return objects;
}
