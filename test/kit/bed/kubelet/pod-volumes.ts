// A pod's volumes, as kubelet's volume manager provides them: each volume becomes a host path the
// container's mount namespace binds at its mountPaths (container-mounts.ts).
//  - projected: serviceAccountToken (a TokenRequest bound to the pod, with the volume's audience and
//    expirationSeconds, rewritten atomically once 80% of its lifetime has passed), configMap,
//    secret and downwardAPI sources; written under <run>/pods/<uid>/volumes/<name>/.
//  - configMap, secret, downwardAPI, emptyDir: the same, written once at pod start.
//  - hostPath: the NODE's view of the host: /sys/fs/bpf is the node's bpffs dir, /sys/fs/cgroup the
//    node's cgroup root, anything else a per-node directory under <run>/hostpath/<node>/.
// The in-cluster API access volume (kube-api-access-*) is an ordinary projected volume here: the
// API server's ServiceAccount admission adds it to the pod, as a real one does. A ConfigMap a
// volume needs that does not exist yet (a new namespace's kube-root-ca.crt appears shortly after
// the namespace) is waited for, as kubelet retries, instead of failing the pod.
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { CoreV1Api, V1Container, V1DownwardAPIVolumeFile, V1KeyToPath, V1Pod, V1ServiceAccountTokenProjection, V1Volume } from '@kubernetes/client-node';
import type { NodePlan } from '../node-plan.js';
import { isNotFound } from '../kube-client.js';
import type { ContainerMount } from './container-mounts.js';

const DEFAULT_TOKEN_SECONDS = 3600;
const REFRESH_AT_FRACTION = 0.8;
const REFRESH_RETRY_MS = 10_000;
const MIN_REFRESH_DELAY_MS = 1000;
/** A new namespace's default ServiceAccount is created right after it; wait that long for it. */
const SERVICE_ACCOUNT_WAIT_MS = 10_000;
/** How long a volume waits for a ConfigMap that does not exist yet before the pod fails. */
const CONFIG_MAP_WAIT_MS = 60_000;
const CONFIG_MAP_RETRY_MS = 250;
const DEFAULT_FILE_MODE = 0o644;

export interface PodVolumesContext {
  core: CoreV1Api;
  node: NodePlan;
  /** This pod's directory for volume contents (removed with the pod). */
  podDir: string;
  /** The node's directory standing in for host paths other than bpffs and cgroup. */
  nodeHostPathDir: string;
  log: (msg: string, fields?: object) => void;
}

interface PreparedVolume {
  hostPath: string;
  /** A hostPath volume may name a file; every other volume is a directory. */
  kind: 'dir' | 'file';
}

/** Where a hostPath of the pod's spec is on this node. */
export function nodeHostPath(node: NodePlan, nodeHostPathDir: string, path: string): string {
  const clean = normalize(path).replace(/\/+$/, '') || '/';
  for (const [root, nodeRoot] of [['/sys/fs/bpf', node.bpffsDir], ['/sys/fs/cgroup', node.cgroupRoot]] as const) {
    if (clean === root) return nodeRoot;
    if (clean.startsWith(`${root}/`)) return join(nodeRoot, clean.slice(root.length + 1));
  }
  return join(nodeHostPathDir, clean);
}

function fileMode(item: { mode?: number }, defaultMode: number | undefined): number {
  return item.mode ?? defaultMode ?? DEFAULT_FILE_MODE;
}

function checkRelativePath(path: string, volume: string): string {
  if (path.startsWith('/') || path.split('/').includes('..') || path === '') {
    throw new Error(`volume ${volume}: path "${path}" must be relative and must not contain ".."`);
  }
  return path;
}

/** Writes a file so readers see the old or the new content, never half of it. */
async function writeAtomically(file: string, content: string | Buffer, mode: number): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  const temporary = join(file, '..', `..${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  await writeFile(temporary, content, { mode });
  await rename(temporary, file);
}

async function pathKind(path: string): Promise<'dir' | 'file' | null> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export class PodVolumes {
  private readonly volumes = new Map<string, PreparedVolume>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly namespace: string;
  private stopped = false;

  constructor(private readonly pod: V1Pod, private readonly ctx: PodVolumesContext) {
    this.namespace = pod.metadata?.namespace ?? 'default';
  }

  /** Writes every volume's contents (and starts the token refreshers); throws on the first failure. */
  async prepare(): Promise<void> {
    await mkdir(this.ctx.podDir, { recursive: true, mode: 0o700 });
    await mkdir(this.stageDir, { recursive: true });
    for (const volume of this.pod.spec?.volumes ?? []) {
      this.volumes.set(volume.name, await this.prepareVolume(volume));
    }
  }

  /** The binds for one container: its volumeMounts. */
  async mountsFor(container: V1Container): Promise<ContainerMount[]> {
    const mounts: ContainerMount[] = [];
    for (const mount of container.volumeMounts ?? []) {
      const volume = this.volumes.get(mount.name);
      if (!volume) throw new Error(`container ${container.name}: volumeMount ${mount.name} names no volume of the pod`);
      let source = volume.hostPath;
      let kind = volume.kind;
      if (mount.subPath) {
        source = join(volume.hostPath, checkRelativePath(mount.subPath, mount.name));
        kind = (await pathKind(source)) ?? 'dir';
        if (kind === 'dir') await mkdir(source, { recursive: true });
      }
      mounts.push({ source, target: mount.mountPath, readOnly: mount.readOnly === true, kind });
    }
    return mounts;
  }

  /** Stops refreshing tokens. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** Stops and removes the pod's volume contents (host paths stay, as on a node). */
  async remove(): Promise<void> {
    this.stop();
    await rm(this.ctx.podDir, { recursive: true, force: true });
  }

  /** An empty directory the containers' mount setup uses as a temporary mount point. */
  get stageDir(): string {
    return join(this.ctx.podDir, 'mount-stage');
  }

  private volumeDir(name: string): string {
    return join(this.ctx.podDir, 'volumes', name);
  }

  private async prepareVolume(volume: V1Volume): Promise<PreparedVolume> {
    const dir = this.volumeDir(volume.name);
    if (volume.hostPath) return this.prepareHostPath(volume);
    if (volume.emptyDir) {
      await mkdir(dir, { recursive: true });
      return { hostPath: dir, kind: 'dir' };
    }
    if (volume.configMap) {
      await mkdir(dir, { recursive: true });
      await this.writeConfigMap(dir, volume.configMap.name!, volume.configMap.items, volume.configMap.optional === true, volume.configMap.defaultMode);
      return { hostPath: dir, kind: 'dir' };
    }
    if (volume.secret) {
      await mkdir(dir, { recursive: true });
      await this.writeSecret(dir, volume.secret.secretName!, volume.secret.items, volume.secret.optional === true, volume.secret.defaultMode);
      return { hostPath: dir, kind: 'dir' };
    }
    if (volume.downwardAPI) {
      await mkdir(dir, { recursive: true });
      await this.writeDownwardApi(dir, volume.downwardAPI.items ?? [], volume.downwardAPI.defaultMode);
      return { hostPath: dir, kind: 'dir' };
    }
    if (volume.projected) {
      await mkdir(dir, { recursive: true });
      const defaultMode = volume.projected.defaultMode;
      for (const source of volume.projected.sources ?? []) {
        if (source.serviceAccountToken) await this.writeProjectedToken(dir, volume.name, source.serviceAccountToken, fileMode({}, defaultMode));
        else if (source.configMap) await this.writeConfigMap(dir, source.configMap.name!, source.configMap.items, source.configMap.optional === true, defaultMode);
        else if (source.secret) await this.writeSecret(dir, source.secret.name!, source.secret.items, source.secret.optional === true, defaultMode);
        else if (source.downwardAPI) await this.writeDownwardApi(dir, source.downwardAPI.items ?? [], defaultMode);
        else throw new Error(`volume ${volume.name}: a projected source of this kind is not supported by the test bed`);
      }
      return { hostPath: dir, kind: 'dir' };
    }
    throw new Error(`volume ${volume.name}: only hostPath, emptyDir, configMap, secret, downwardAPI and projected volumes are supported by the test bed`);
  }

  private async prepareHostPath(volume: V1Volume): Promise<PreparedVolume> {
    const spec = volume.hostPath!;
    const path = nodeHostPath(this.ctx.node, this.ctx.nodeHostPathDir, spec.path);
    const type = spec.type ?? '';
    const existing = await pathKind(path);
    switch (type) {
      case '':
      case 'DirectoryOrCreate':
      case 'Directory':
        // 'Directory' must exist on a real node; a bed node's directories start empty, so it is made.
        if (existing === 'file') {
          if (type === '') return { hostPath: path, kind: 'file' };
          throw new Error(`volume ${volume.name}: hostPath ${spec.path} (${path} on ${this.ctx.node.name}) is a file, not a directory`);
        }
        if (!existing) await mkdir(path, { recursive: true });
        return { hostPath: path, kind: 'dir' };
      case 'FileOrCreate':
      case 'File':
        if (existing === 'dir') throw new Error(`volume ${volume.name}: hostPath ${spec.path} (${path} on ${this.ctx.node.name}) is a directory, not a file`);
        if (!existing) {
          await mkdir(join(path, '..'), { recursive: true });
          await writeFile(path, '', { flag: 'a' });
        }
        return { hostPath: path, kind: 'file' };
      default:
        throw new Error(`volume ${volume.name}: hostPath type ${type} is not supported by the test bed`);
    }
  }

  private async writeConfigMap(dir: string, name: string, items: V1KeyToPath[] | undefined, optional: boolean, defaultMode: number | undefined): Promise<void> {
    let data: Record<string, string | Buffer>;
    const deadline = Date.now() + CONFIG_MAP_WAIT_MS;
    let logged = false;
    for (;;) {
      try {
        const configMap = await this.ctx.core.readNamespacedConfigMap({ name, namespace: this.namespace });
        data = { ...(configMap.data ?? {}) };
        for (const [key, value] of Object.entries(configMap.binaryData ?? {})) data[key] = Buffer.from(value, 'base64');
        break;
      } catch (err) {
        if (isNotFound(err) && optional) return;
        if (!isNotFound(err) || Date.now() >= deadline) throw new Error(`ConfigMap ${this.namespace}/${name} for a volume: ${String(err)}`);
        if (!logged) this.ctx.log('waiting for a ConfigMap a volume needs', { pod: `${this.namespace}/${this.pod.metadata?.name}`, configMap: name });
        logged = true;
        await new Promise((resolve) => setTimeout(resolve, CONFIG_MAP_RETRY_MS));
      }
    }
    await this.writeKeys(dir, `ConfigMap ${name}`, data, items, defaultMode);
  }

  private async writeSecret(dir: string, name: string, items: V1KeyToPath[] | undefined, optional: boolean, defaultMode: number | undefined): Promise<void> {
    let data: Record<string, Buffer>;
    try {
      const secret = await this.ctx.core.readNamespacedSecret({ name, namespace: this.namespace });
      data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
      for (const [key, value] of Object.entries(secret.stringData ?? {})) data[key] = Buffer.from(value);
    } catch (err) {
      if (isNotFound(err) && optional) return;
      throw new Error(`Secret ${this.namespace}/${name} for a volume: ${String(err)}`);
    }
    await this.writeKeys(dir, `Secret ${name}`, data, items, defaultMode);
  }

  private async writeKeys(dir: string, what: string, data: Record<string, string | Buffer>, items: V1KeyToPath[] | undefined, defaultMode: number | undefined): Promise<void> {
    const chosen: V1KeyToPath[] = items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const item of chosen) {
      const value = data[item.key];
      if (value === undefined) throw new Error(`${what} has no key ${item.key}`);
      await writeAtomically(join(dir, checkRelativePath(item.path, what)), value, fileMode(item, defaultMode));
    }
  }

  private async writeDownwardApi(dir: string, items: V1DownwardAPIVolumeFile[], defaultMode: number | undefined): Promise<void> {
    const meta = this.pod.metadata ?? {};
    for (const item of items) {
      const field = item.fieldRef?.fieldPath;
      let value: string;
      if (field === 'metadata.name') value = meta.name ?? '';
      else if (field === 'metadata.namespace') value = this.namespace;
      else if (field === 'metadata.uid') value = meta.uid ?? '';
      else if (field === 'metadata.labels') value = Object.entries(meta.labels ?? {}).map(([k, v]) => `${k}="${v}"`).join('\n');
      else if (field === 'metadata.annotations') value = Object.entries(meta.annotations ?? {}).map(([k, v]) => `${k}="${v}"`).join('\n');
      else throw new Error(`downwardAPI item ${item.path}: only metadata.name/namespace/uid/labels/annotations fieldRefs are supported by the test bed`);
      await writeAtomically(join(dir, checkRelativePath(item.path, 'downwardAPI')), value, fileMode(item, defaultMode));
    }
  }

  /** Writes the token now (failing loudly) and keeps it fresh, as kubelet's token manager does. */
  private async writeProjectedToken(dir: string, volume: string, source: V1ServiceAccountTokenProjection, mode: number): Promise<void> {
    const file = join(dir, checkRelativePath(source.path, volume));
    const lifetimeMs = await this.requestToken(file, source, mode, SERVICE_ACCOUNT_WAIT_MS);
    this.scheduleRefresh(file, source, mode, lifetimeMs * REFRESH_AT_FRACTION);
  }

  private scheduleRefresh(file: string, source: V1ServiceAccountTokenProjection, mode: number, delayMs: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.requestToken(file, source, mode, 0).then(
        (lifetimeMs) => this.scheduleRefresh(file, source, mode, lifetimeMs * REFRESH_AT_FRACTION),
        (err: unknown) => {
          // The current token stays valid for the last fifth of its life: retry well before.
          this.ctx.log('refreshing a projected service-account token failed; retrying', { pod: `${this.namespace}/${this.pod.metadata?.name}`, file, err: String(err) });
          this.scheduleRefresh(file, source, mode, REFRESH_RETRY_MS);
        },
      );
    }, Math.max(delayMs, MIN_REFRESH_DELAY_MS));
    timer.unref();
    this.timers.add(timer);
  }

  /** One TokenRequest bound to this pod, written to `file`; returns the token's lifetime in ms. */
  private async requestToken(file: string, source: V1ServiceAccountTokenProjection, mode: number, waitForAccountMs: number): Promise<number> {
    const serviceAccount = this.pod.spec?.serviceAccountName ?? 'default';
    const deadline = Date.now() + waitForAccountMs;
    for (;;) {
      const requestedAt = Date.now();
      try {
        const answer = await this.ctx.core.createNamespacedServiceAccountToken({
          name: serviceAccount,
          namespace: this.namespace,
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenRequest',
            spec: {
              // No audiences: the API server's own (what the kube-api-access token carries).
              audiences: source.audience ? [source.audience] : [],
              expirationSeconds: source.expirationSeconds ?? DEFAULT_TOKEN_SECONDS,
              boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: this.pod.metadata!.name!, uid: this.pod.metadata!.uid! },
            },
          },
        });
        const token = answer.status?.token;
        const expiresAt = answer.status?.expirationTimestamp;
        if (!token || !expiresAt) throw new Error(`TokenRequest for ${this.namespace}/${serviceAccount} returned no token or expiry`);
        await writeAtomically(file, token, mode);
        return Math.max(new Date(expiresAt).getTime() - requestedAt, 0);
      } catch (err) {
        if (!isNotFound(err) || Date.now() >= deadline) {
          throw new Error(`service-account token for pod ${this.namespace}/${this.pod.metadata?.name} (account ${serviceAccount}): ${String(err)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }
}
