// Upstream failures through a real proxy: a connect that never completes (a listener whose
// accept queue is full drops our SYN) -> 504, an endpoint that never answers -> 504, an endpoint
// that resets -> 502; each named in x-weft-error, none leaves the client hanging.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { promisify } from 'node:util';
import pino from 'pino';
import { OutboundProxy, type OriginalDestination } from '../../agent/src/proxy/outbound-proxy.js';
import { ProxyMetrics } from '../../agent/src/metrics/proxy-metrics.js';
import { createMetricsRegistry } from '../../agent/src/metrics/metrics-registry.js';
import { OriginalDestinations, buildSnapshot, closeServer, fromReservedClientPort, listen, pod, reserveClientPort } from './proxy-harness.js';

const execFileAsync = promisify(execFile);

const FULL_BACKLOG = { ip: '10.96.1.1', port: 80 };
const SILENT = { ip: '10.96.1.2', port: 80 };
const RESETTING = { ip: '10.96.1.3', port: 80 };
const FULL_BACKLOG_TCP = { ip: '10.96.1.4', port: 80 };

describe('outbound proxy upstream failures', () => {
  const destinations = new OriginalDestinations();
  const sockets = new Set<net.Socket>();
  let fullBacklog: ChildProcess | undefined;
  let fillerSocket: net.Socket | undefined;
  let silent: net.Server;
  let resetting: http.Server;
  let proxy: OutboundProxy;
  let proxyPort = 0;

  before(async () => {
    // A listener with backlog 0 that never accepts: one queued connection fills it, after that
    // the kernel drops SYNs and connects hang, as behind a black-holing firewall.
    fullBacklog = spawn('python3', [
      '-c',
      'import socket,sys,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()',
    ], { stdio: ['pipe', 'pipe', 'inherit'] });
    const [portLine] = (await once(fullBacklog.stdout!, 'data')) as [Buffer];
    const fullBacklogPort = Number(portLine.toString().trim());
    fillerSocket = net.connect(fullBacklogPort, '127.0.0.1');
    await once(fillerSocket, 'connect');

    silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.resume(); // reads the request, never answers
    });
    const silentPort = await listen(silent);
    resetting = http.createServer((req) => req.socket.resetAndDestroy());
    const resettingPort = await listen(resetting);

    const snapshot = buildSnapshot({
      pods: [pod('127.0.0.1', 'demo', 'client')],
      services: [
        { namespace: 'demo', name: 'blackhole', clusterIP: FULL_BACKLOG.ip, port: 80, endpoints: [{ ip: '127.0.0.1', port: fullBacklogPort }] },
        {
          namespace: 'demo',
          name: 'blackhole-tcp',
          clusterIP: FULL_BACKLOG_TCP.ip,
          port: 80,
          appProtocol: 'tcp',
          endpoints: [{ ip: '127.0.0.1', port: fullBacklogPort }],
        },
        { namespace: 'demo', name: 'silent', clusterIP: SILENT.ip, port: 80, endpoints: [{ ip: '127.0.0.1', port: silentPort }] },
        { namespace: 'demo', name: 'resetting', clusterIP: RESETTING.ip, port: 80, endpoints: [{ ip: '127.0.0.1', port: resettingPort }] },
      ],
    });
    proxy = new OutboundProxy({
      host: '127.0.0.1',
      port: 0,
      currentSnapshot: () => snapshot,
      originalDestination: destinations.take,
      metrics: new ProxyMetrics(createMetricsRegistry({ processMetrics: false }), { reporter: 'source' }),
      log: pino({ level: 'silent' }),
      connectTimeoutMs: 300,
      responseHeadersTimeoutMs: 300,
    });
    await proxy.listen();
    proxyPort = proxy.address().port;
  });

  after(async () => {
    await proxy?.close();
    fillerSocket?.destroy();
    if (fullBacklog?.pid !== undefined && fullBacklog.exitCode === null) {
      fullBacklog.kill();
      await once(fullBacklog, 'exit');
    }
    for (const socket of sockets) socket.destroy();
    await Promise.all([silent && closeServer(silent), resetting && closeServer(resetting)]);
  });

  async function curl(target: OriginalDestination): Promise<{ status: number; headers: string }> {
    const { stdout } = await fromReservedClientPort('127.0.0.1', (localPort) => {
      destinations.set('127.0.0.1', localPort, target);
      return execFileAsync('curl', ['-sS', '-i', '--max-time', '20', '--local-port', String(localPort), `http://127.0.0.1:${proxyPort}/`]);
    });
    const headers = stdout.slice(0, stdout.indexOf('\r\n\r\n'));
    return { status: Number(headers.split(' ')[1]), headers };
  }

  test('a connect that never completes: 504 ERR_PROXY_UPSTREAM_CONNECT_TIMEOUT', async () => {
    const response = await curl(FULL_BACKLOG);
    assert.equal(response.status, 504);
    assert.match(response.headers, /x-weft-error: ERR_PROXY_UPSTREAM_CONNECT_TIMEOUT/i);
  });

  test('a connect that never completes, opaque TCP: the client is reset, not left hanging', async () => {
    const localPort = await reserveClientPort();
    destinations.set('127.0.0.1', localPort, FULL_BACKLOG_TCP);
    const socket = net.connect({ host: '127.0.0.1', port: proxyPort, localPort });
    const outcome = await new Promise<string>((resolve) => {
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      socket.on('close', () => resolve('closed'));
      socket.resume();
    });
    assert.equal(outcome, 'ECONNRESET');
  });

  test('an endpoint that never answers: 504 ERR_PROXY_UPSTREAM_TIMEOUT', async () => {
    const response = await curl(SILENT);
    assert.equal(response.status, 504);
    assert.match(response.headers, /x-weft-error: ERR_PROXY_UPSTREAM_TIMEOUT/i);
  });

  test('an endpoint that resets: 502 ERR_PROXY_UPSTREAM_RESET', async () => {
    const response = await curl(RESETTING);
    assert.equal(response.status, 502);
    assert.match(response.headers, /x-weft-error: ERR_PROXY_UPSTREAM_RESET/i);
  });
});
