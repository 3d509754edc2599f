// What the control thread and a proxy worker say to each other over the worker's port. The
// control thread owns all state; a worker gets its start data (workerData), then whole
// snapshots and credential sets as they change, and answers calls (listen, drain, metrics, ...)
// by id. Everything here is structured-clone data: no functions, no class instances.
import type { RegistryJson } from '../metrics/node-metrics-page.js';
import type { CredentialsSnapshot } from '../hbone/workload-credential-store.js';
import type { MeshSnapshot } from '../state/mesh-snapshot.js';
import type { SnapshotDelta } from './snapshot-delta.js';

export interface ProxyWorkerInit {
  /** 0..N-1: names the worker in logs. */
  index: number;
  nodeName: string;
  nodeIp: string;
  outboundPort: number;
  hbonePort: number;
  trustDomain: string;
  /**
   * The fd of the pinned weft_peer_dst map (fds are process-wide, so it is valid in a worker):
   * the one map a worker touches, to read and delete its own accepted connection's original
   * destination. Programs, links and every other map stay with the control thread.
   */
  peerDstMapFd: number;
  logLevel: string;
  snapshot: MeshSnapshot;
  /** null: no CA configured, so no HBONE (mesh traffic is refused). */
  credentials: CredentialsSnapshot | null;
}

/** The calls a worker answers, with their argument and result. */
export interface WorkerCalls {
  /** Opens the proxy (and HBONE) listeners with SO_REUSEPORT. */
  listen: { arg: null; result: null };
  stopAccepting: { arg: null; result: null };
  acceptOnlyFrom: { arg: string; result: null };
  drain: { arg: number; result: DrainResult };
  close: { arg: null; result: null };
  metrics: { arg: null; result: WorkerMetrics };
  stats: { arg: null; result: WorkerStats };
}

export type WorkerCallName = keyof WorkerCalls;

export interface DrainResult {
  clientsCut: number;
  sessionsCut: number;
}

export type WorkerMetrics = RegistryJson;

export interface WorkerStats {
  outboundTunnels: { sessions: number; sessionsOpened: number } | null;
  inboundSessions: { sourceIdentity: string; destinationIdentity: string; peerCertificateSerial: string }[];
}

export type ControlMessage =
  /** A whole snapshot (to a worker whose base no longer matches). */
  | { type: 'snapshot'; snapshot: MeshSnapshot; changedAtMs: number }
  /** What changed since the last snapshot sent (snapshot-delta.ts). */
  | { type: 'snapshot-delta'; delta: SnapshotDelta; changedAtMs: number }
  | { type: 'credentials'; credentials: CredentialsSnapshot }
  | { type: 'call'; id: number; name: WorkerCallName; arg: unknown };

export type WorkerMessage =
  | { type: 'ready' }
  /** The worker could not apply a delta (its snapshot is not the delta's base): send a whole one. */
  | { type: 'resync' }
  | { type: 'reply'; id: number; result: unknown }
  | { type: 'failed'; id: number; message: string };
