// Handing over the outbound proxy: two proxies listen on one port (SO_REUSEPORT), as the old
// and the new agent do during a rolling update. The old one stops accepting (every new
// connection reaches the successor) and drains: it answers the next request of each keep-alive client
// with `Connection: close`, closes HTTP connections that stay quiet, lets opaque TCP run to its
// end, and cuts only what outlives the drain timeout.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pino from 'pino';
import { OutboundProxy } from '../../agent/src/proxy/outbound-proxy.js';
import { ProxyMetrics } from '../../agent/src/metrics/proxy-metrics.js';
import { createMetricsRegistry } from '../../agent/src/metrics/metrics-registry.js';
import { countOtherListeners, listenerCount } from '../../agent/src/net/listening-sockets.js';
import { waitFor } from '../support/wait-for.js';
import { EchoServer, HttpBackend, OriginalDestinations, buildSnapshot, pod, readUntil, reserveClientPort } from './proxy-harness.js';

const WEB = { ip: '10.96.1.10', port: 80 };
const RAW = { ip: '10.96.1.11', port: 80 };
const CLIENT_IP = '127.0.0.1';
const log = pino({ level: process.env.WEFT_TEST_LOG ?? 'silent' });

function responseComplete(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  if (split < 0) return false;
  const length = /content-length: (\d+)/i.exec(text.slice(0, split));
  if (length === null) return text.endsWith('\r\n0\r\n\r\n'); // chunked
  return text.length >= split + 4 + Number(length[1]);
}

describe('outbound proxy handover', () => {
  const backend = new HttpBackend('drain-backend');
  const echo = new EchoServer();
  const destinations = new OriginalDestinations();
  const proxies: OutboundProxy[] = [];
  const sockets: net.Socket[] = [];

  function proxy(port: number): OutboundProxy {
    const snapshot = buildSnapshot({
      pods: [pod(CLIENT_IP, 'demo', 'client')],
      services: [
        { namespace: 'demo', name: 'web', ...WEB, clusterIP: WEB.ip, appProtocol: 'http', endpoints: [{ ip: '127.0.0.1', port: backend.port }] },
        { namespace: 'demo', name: 'raw', ...RAW, clusterIP: RAW.ip, appProtocol: 'tcp', endpoints: [{ ip: '127.0.0.1', port: echo.port }] },
      ],
    });
    const created = new OutboundProxy({
      host: '127.0.0.1',
      port,
      currentSnapshot: () => snapshot,
      originalDestination: destinations.take,
      metrics: new ProxyMetrics(createMetricsRegistry(), { reporter: 'source' }),
      log,
    });
    proxies.push(created);
    return created;
  }

  /** A client connection to `port` as if it had dialled `target`, accepted by `wanted` (retried until the kernel picks it). */
  async function connectVia(wanted: OutboundProxy, port: number, target: { ip: string; port: number }): Promise<net.Socket> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const before = proxies.map((p) => p.stats().openConnections);
      const localPort = await reserveClientPort();
      destinations.set(CLIENT_IP, localPort, target);
      const socket = net.connect({ host: '127.0.0.1', port, localAddress: CLIENT_IP, localPort });
      socket.on('error', () => undefined);
      sockets.push(socket);
      const acceptedBy = await waitFor(() => {
        const index = proxies.findIndex((p, i) => p.stats().openConnections > before[i]!);
        return index >= 0 ? proxies[index] : undefined;
      }, { what: 'a proxy accepting the connection' });
      if (acceptedBy === wanted) return socket;
      socket.destroy();
      await waitFor(() => proxies.every((p, i) => p.stats().openConnections <= before[i]!), { what: 'the probe connection closed' });
    }
    throw new Error('the kernel never picked the wanted proxy');
  }

  async function get(socket: net.Socket, path: string): Promise<string> {
    const reply = readUntil(socket, responseComplete);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: web.demo\r\n\r\n`);
    return (await reply).toString('latin1');
  }

  before(async () => {
    await Promise.all([backend.start(), echo.start()]);
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all([backend.stop(), echo.stop()]);
  });

  test('the old proxy stops accepting, finishes its clients politely, and the successor takes every new connection', async () => {
    const old = proxy(0);
    await old.listen();
    const port = old.address().port;
    const successor = proxy(port);
    await successor.listen();

    const busy = await connectVia(old, port, WEB);
    assert.match(await get(busy, '/one'), /^HTTP\/1\.1 200 /);
    const quiet = await connectVia(old, port, WEB);
    assert.match(await get(quiet, '/one'), /^HTTP\/1\.1 200 /);
    const opaque = await connectVia(old, port, RAW);
    const echoed = readUntil(opaque, (b) => b.toString() === 'ping');
    opaque.write('ping');
    await echoed;

    await old.stopAccepting();
    const drained = old.drain(20_000);

    // Every new connection now reaches the successor.
    const successorBefore = successor.stats().openConnections;
    const fresh = [];
    for (let i = 0; i < 10; i++) {
      const localPort = await reserveClientPort();
      destinations.set(CLIENT_IP, localPort, WEB);
      const socket = net.connect({ host: '127.0.0.1', port, localAddress: CLIENT_IP, localPort });
      sockets.push(socket);
      fresh.push(socket);
      assert.match(await get(socket, `/fresh/${i}`), /^HTTP\/1\.1 200 /);
    }
    assert.equal(successor.stats().openConnections - successorBefore, 10);

    // The busy keep-alive client is told to reconnect on its next response, then the connection ends.
    const busyClosed = new Promise((resolve) => busy.once('close', resolve));
    const last = await get(busy, '/two');
    assert.match(last, /^HTTP\/1\.1 200 /);
    assert.match(last, /\r\nConnection: close\r\n/i);
    await busyClosed;
    // The quiet one is closed by the proxy (a FIN, no reset), nothing was in flight on it.
    await new Promise((resolve) => quiet.once('end', resolve));

    // Opaque TCP keeps working until the client ends it; then the drain is complete.
    const again = readUntil(opaque, (b) => b.toString() === 'still here');
    opaque.write('still here');
    await again;
    opaque.end();
    assert.equal(await drained, 0, 'nothing was cut');
    for (const socket of fresh) socket.destroy();
  });

  test('what outlives the drain timeout is cut and counted', async () => {
    const old = proxy(0);
    await old.listen();
    const port = old.address().port;
    const opaque = await connectVia(old, port, RAW);
    const closed = new Promise((resolve) => opaque.once('close', resolve));
    // Without a successor the proxy keeps its listener while it drains (the agent holds new
    // connects in the kernel meanwhile) and closes it at the end.
    assert.equal(await old.drain(300), 1);
    await closed;
    assert.equal(listenerCount('127.0.0.1', port), 0, 'nothing listens on the port any more');
  });
});

describe('listening sockets of the namespace', () => {
  test('a /proc/net/tcp listener is found by address and port, also on 0.0.0.0; other states are not listeners', () => {
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:3A99 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
      '   1: 00000000:3A98 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0',
      '   2: 0200007F:3A99 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0',
      '   3: 0100007F:3A99 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0 100 0 0 10 0',
    ].join('\n');
    assert.equal(listenerCount('127.0.0.1', 15001, table), 2, 'two processes listen with SO_REUSEPORT');
    assert.equal(listenerCount('10.0.0.1', 15000, table), 1, 'a wildcard listener serves every address');
    assert.equal(listenerCount('127.0.0.2', 15001, table), 0, 'an established socket is not a listener');
    assert.equal(listenerCount('127.0.0.1', 15002, table), 0);
    assert.equal(countOtherListeners('127.0.0.1', 15001, table, new Set(['1'])), 1, 'a listener whose inode this process holds is its own');
    assert.equal(countOtherListeners('127.0.0.1', 15001, table, new Set(['1', '4'])), 0);
  });
});
