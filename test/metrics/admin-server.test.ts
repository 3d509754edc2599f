// The admin port with real curl: /metrics renders the agent's registry (with the agent gauges
// and process metrics), /healthz answers, /readyz follows its checks, /debug/* is served on
// loopback.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pino from 'pino';
import { AdminServer } from '../../agent/src/metrics/admin-server.js';
import { AgentMetrics } from '../../agent/src/metrics/agent-metrics.js';
import { createMetricsRegistry } from '../../agent/src/metrics/metrics-registry.js';

const execFileAsync = promisify(execFile);

describe('admin server', () => {
  const registry = createMetricsRegistry();
  const agentMetrics = new AgentMetrics(registry);
  let proxyListening = false;
  const admin = new AdminServer({
    hosts: ['127.0.0.1', '127.0.0.3', '127.0.0.1'],
    port: 0,
    registry,
    readiness: { informersSynced: () => true, proxyListening: () => proxyListening },
    debug: { '/debug/hello': (_req, res) => res.end('debug ok\n') },
    log: pino({ level: 'error' }),
  });

  async function get(host: string, path: string): Promise<{ status: number; body: string }> {
    const { stdout } = await execFileAsync('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', `http://${host}:${admin.port}${path}`]);
    const split = stdout.lastIndexOf('\n');
    return { status: Number(stdout.slice(split + 1)), body: stdout.slice(0, split) };
  }

  before(async () => {
    await admin.listen();
  });

  after(async () => {
    await admin.close();
  });

  test('/metrics renders agent metrics and default process metrics on every listen address', async () => {
    agentMetrics.enrolledPods.set(3);
    agentMetrics.bpfAttachErrors.inc();
    for (const host of ['127.0.0.1', '127.0.0.3']) {
      const { status, body } = await get(host, '/metrics');
      assert.equal(status, 200);
      assert.match(body, /^weft_enrolled_pods 3$/m);
      assert.match(body, /^weft_bpf_attach_errors_total 1$/m);
      assert.match(body, /^process_resident_memory_bytes \d+/m);
    }
  });

  test('/healthz answers and /readyz follows the checks', async () => {
    assert.equal((await get('127.0.0.1', '/healthz')).status, 200);
    const notReady = await get('127.0.0.1', '/readyz');
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /not ready: proxyListening/);
    proxyListening = true;
    assert.equal((await get('127.0.0.1', '/readyz')).status, 200);
  });

  test('/debug/* answers on loopback; unknown paths get 404', async () => {
    const debug = await get('127.0.0.1', '/debug/hello');
    assert.equal(debug.status, 200);
    assert.equal(debug.body, 'debug ok\n');
    assert.equal((await get('127.0.0.1', '/debug/nope')).status, 404);
    assert.equal((await get('127.0.0.1', '/nope')).status, 404);
  });
});
