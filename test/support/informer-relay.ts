// A loopback TCP relay in front of the API server that a test can cut, to play a network failure
// under a client's watch: `killConnections()` resets every relayed connection (the client sees
// its watch die mid-stream), `hold()` parks new connections unanswered until `release()`, so a
// test can change objects while the client is provably disconnected, and `dropHeld()` resets the
// parked ones (a server failing before it answers). TLS passes through
// untouched; clients point at `url` with the server's CA and token.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface ConnectionRelay {
  url: string;
  port: number;
  /** Connections relayed so far (held ones count once released). */
  readonly connectionsRelayed: number;
  /** Connections currently parked by hold(). */
  readonly heldCount: number;
  /** Relayed connections currently open. */
  readonly openCount: number;
  /** Resets every open relayed connection; returns how many were open. */
  killConnections(): number;
  hold(): void;
  /** Resets the parked connections (the client sees the server fail before answering). */
  dropHeld(): number;
  release(): void;
  /** A copy of `kubeConfig` whose current cluster is reached through this relay. */
  kubeConfigThrough(kubeConfig: KubeConfig): KubeConfig;
  close(): Promise<void>;
}

export async function startConnectionRelay(target: { host: string; port: number }): Promise<ConnectionRelay> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const held: Socket[] = [];
  let holding = false;
  let connectionsRelayed = 0;

  const relay = (client: Socket): void => {
    connectionsRelayed += 1;
    const upstream = connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    const teardown = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // A reset or refused side ends the pair; the other side sees the connection drop, which is
    // the failure these tests play. Nothing else to report.
    client.on('error', teardown).on('close', teardown);
    upstream.on('error', teardown).on('close', teardown);
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const server: Server = createServer((client) => {
    if (holding) {
      client.pause();
      client.on('error', () => client.destroy());
      held.push(client);
      return;
    }
    relay(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay has no TCP address');
  const port = address.port;
  const url = `https://127.0.0.1:${port}`;

  return {
    url,
    port,
    get connectionsRelayed() {
      return connectionsRelayed;
    },
    get heldCount() {
      return held.length;
    },
    get openCount() {
      return pairs.size;
    },
    killConnections(): number {
      const open = pairs.size;
      for (const { client, upstream } of [...pairs]) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      pairs.clear();
      return open;
    },
    hold(): void {
      holding = true;
    },
    dropHeld(): number {
      const dropped = held.splice(0);
      for (const client of dropped) client.resetAndDestroy();
      return dropped.length;
    },
    release(): void {
      holding = false;
      for (const client of held.splice(0)) {
        if (!client.destroyed) relay(client);
      }
    },
    kubeConfigThrough(kubeConfig: KubeConfig): KubeConfig {
      const current = kubeConfig.getCurrentCluster();
      if (!current) throw new Error('kubeconfig has no current cluster to relay');
      const relayed = new KubeConfig();
      relayed.loadFromOptions({
        clusters: kubeConfig.clusters.map((cluster) =>
          cluster.name === current.name ? { ...cluster, server: url } : cluster,
        ),
        users: kubeConfig.users,
        contexts: kubeConfig.contexts,
        currentContext: kubeConfig.currentContext,
      });
      return relayed;
    },
    async close(): Promise<void> {
      holding = false;
      for (const client of held.splice(0)) client.destroy();
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
