// Root-namespace end of the API relay. Unix sockets are not per network namespace, so a node
// helper inside a node namespace can reach this socket, and we forward to the API server on the
// root namespace's loopback. TLS passes through untouched: the kubeconfig's CA and token work.
import { createServer, connect, type Server } from 'node:net';
import { rm } from 'node:fs/promises';
import { pipeSockets } from './socket-pipe.js';

export async function startApiRelay(socketPath: string, targetHost: string, targetPort: number): Promise<Server> {
  await rm(socketPath, { force: true });
  const server = createServer((client) => {
    const upstream = connect({ host: targetHost, port: targetPort });
    pipeSockets(client, upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
