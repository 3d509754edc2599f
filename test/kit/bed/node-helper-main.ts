// The node helper: one small process per node, started inside the node's network namespace
// (nsenter --net), because a Node.js process cannot switch namespaces itself. It
//  1. relays 127.0.0.1:<API port> in the node namespace to the root-side unix socket, so the same
//     kubeconfig works from inside a node (agents run there), and the same port on every
//     --relay-host (the node IP: pods in their own namespaces reach the API server there, as
//     KUBERNETES_SERVICE_HOST tells them; the API server's certificate names the node IPs);
//  2. answers readiness probes (TCP connect, HTTP GET) from the node namespace, as kubelet does.
// Requests arrive as JSON lines on stdin, answers leave as JSON lines on stdout. It exits when
// stdin closes, i.e. when the daemon that started it is gone.
import { createServer, connect } from 'node:net';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { pipeSockets } from './socket-pipe.js';

export interface ProbeRequest {
  id: number;
  kind: 'tcp' | 'http';
  host: string;
  port: number;
  path?: string;
  timeoutMs: number;
}

export interface ProbeAnswer {
  id: number;
  ok: boolean;
  detail?: string;
}

function parseFlags(argv: string[]): { relayPort: number | null; relaySocket: string | null; relayHosts: string[] } {
  let relayPort: number | null = null;
  let relaySocket: string | null = null;
  const relayHosts = ['127.0.0.1'];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--relay-port') relayPort = Number(argv[++i]);
    else if (argv[i] === '--relay-socket') relaySocket = argv[++i] ?? null;
    else if (argv[i] === '--relay-host') relayHosts.push(argv[++i] ?? '');
    else throw new Error(`node helper: unknown argument ${argv[i]}`);
  }
  return { relayPort, relaySocket, relayHosts };
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<ProbeAnswer['detail'] | true> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`timeout after ${timeoutMs} ms`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      resolve(err.message);
    });
  });
}

function probeHttp(host: string, port: number, path: string, timeoutMs: number): Promise<ProbeAnswer['detail'] | true> {
  return new Promise((resolve) => {
    // A new connection per probe, as kubelet's prober disables keep-alive: a kept connection
    // would keep asking the same process when two share a host port (a surge upgrade).
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs, agent: false, headers: { 'user-agent': 'kube-probe/1.26', connection: 'close' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      // kubelet: 200..399 is success.
      resolve(status >= 200 && status < 400 ? true : `HTTP status ${status}`);
    });
    req.once('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.once('error', (err) => resolve(err.message));
    req.end();
  });
}

async function answer(line: string): Promise<ProbeAnswer> {
  const probe = JSON.parse(line) as ProbeRequest;
  const result = probe.kind === 'http'
    ? await probeHttp(probe.host, probe.port, probe.path ?? '/', probe.timeoutMs)
    : await probeTcp(probe.host, probe.port, probe.timeoutMs);
  return result === true ? { id: probe.id, ok: true } : { id: probe.id, ok: false, detail: result };
}

async function main(): Promise<void> {
  const { relayPort, relaySocket, relayHosts } = parseFlags(process.argv.slice(2));
  if (relayPort !== null && relaySocket !== null) {
    for (const host of relayHosts) {
      const server = createServer((client) => pipeSockets(client, connect({ path: relaySocket })));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(relayPort, host, () => resolve());
      });
    }
  }
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    answer(line).then(
      (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
      (err: unknown) => process.stderr.write(`node helper: bad probe request ${line}: ${String(err)}\n`),
    );
  });
  lines.on('close', () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`node helper failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
