// Issue "Workload identity and mutual TLS", end to end on a two-node bed with the real agents,
// `weft ca`, kernel programs and clients (curl, openssl): a cross-node request succeeds while a
// capture on the link between the nodes (tcpdump on the bridge, read by our own pcap reader)
// shows only TLS on 15008 and never the request's marker; the backend sees the verified SPIFFE ID
// of the caller even when the caller forges the header; a self-signed certificate with a
// plausible SPIFFE ID is refused at 15008 and counted; the destination metrics carry the source
// principal; and a workload without a certificate is refused, never sent in plaintext.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify as stringifyYaml } from 'yaml';
import { bedPrefix, bridgeNetnsName } from '../kit/index.js';
import { PacketCapture } from '../support/packet-capture.js';
import { readEthernetCapture, type TcpSegment } from '../support/pcap-reader.js';
import { reassembleTcpStreams, type TcpDirectionStream } from '../support/tcp-stream-reassembly.js';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { parseTlsRecords } from '../support/tls-record-stream.js';
import { uniqueName } from '../support/unique-name.js';
import { waitFor } from '../support/wait-for.js';
import { BedFixture, rawHttpClient, sumMetric } from './bed-fixture.js';

const execFileAsync = promisify(execFile);

const HBONE_PORT = 15008;
const CA_PORT = 15012;
const ADMIN_PORT = 15020;
const ns = uniqueName('mtls');
const clientSa = 'mtls-client';
const clientIdentity = `spiffe://cluster.local/ns/${ns}/sa/${clientSa}`;
const echoIdentity = `spiffe://cluster.local/ns/${ns}/sa/default`;

let bed: BedFixture;
let work: TempDir;
let bridgeNetns: string;
let serviceIp: string;
let nodeIps: Record<string, string>;
/** Captures still running, stopped in after() if a test failed before stopping its own. */
const captures = new Set<PacketCapture>();
/** The CA process while a test holds it stopped, continued in after() whatever happens. */
let stoppedCaPid: number | undefined;

interface EchoAnswer {
  pod: string;
  peer: string;
  url: string;
  method: string;
  bodyBytes: number;
  headers: Record<string, string>;
}

interface DebugIdentities {
  certificates: { identity: string; serialNumber: string; notAfter: string }[];
  outboundTunnels: { sessions: number; sessionsOpened: number } | null;
  inboundSessions: { sourceIdentity: string; destinationIdentity: string; peerCertificateSerial: string }[];
}

async function debugIdentities(node: string): Promise<DebugIdentities> {
  const out = await bed.bedOk(['exec', '--node', node, '--', 'curl', '-sf', '-m', '5', `http://127.0.0.1:${ADMIN_PORT}/debug/identities`]);
  return JSON.parse(out) as DebugIdentities;
}

/** Serials are hex; sources differ in case, separators and leading zeros. */
function normalSerial(serial: string): string {
  return serial.replace(/:/g, '').toLowerCase().replace(/^0+(?=.)/, '');
}

function marker(): string {
  return `weft-marker-${randomBytes(8).toString('hex')}`;
}

async function startBridgeCapture(name: string): Promise<PacketCapture> {
  const capture = await PacketCapture.start({ netns: bridgeNetns, iface: 'br0', file: join(work.path, `${name}.pcap`), filter: ['tcp'] });
  captures.add(capture);
  return capture;
}

async function stopCapture(capture: PacketCapture): Promise<Buffer> {
  const summary = await capture.stop();
  captures.delete(capture);
  assert.equal(summary.droppedByKernel, 0, `the capture lost no packets (a lost packet could hide a marker): ${summary.stderr}`);
  return readFile(capture.file);
}

/**
 * Sends a plaintext request from node-1 to node-2's admin port carrying a unique token and waits
 * until the capture holds it: everything that crossed the link before it is in the file by then.
 * Returns the token, so the analysis can leave exactly this connection out.
 */
async function captureBarrier(capture: PacketCapture, extraCondition: (file: Buffer) => boolean = () => true): Promise<string> {
  const token = `barrier-${randomBytes(6).toString('hex')}`;
  await bed.bedOk(['exec', '--node', 'node-1', '--', 'curl', '-sf', '-m', '5', '-o', '/dev/null', `http://${nodeIps['node-2']}:${ADMIN_PORT}/readyz?${token}`]);
  await waitFor(async () => {
    const file = await readFile(capture.file);
    return file.includes(token) && extraCondition(file);
  }, { timeoutMs: 30_000, what: `the capture to hold ${token}` });
  return token;
}

interface LinkTraffic {
  segments: TcpSegment[];
  streams: TcpDirectionStream[];
}

/** Decodes a capture, leaving out the barrier connection (both directions of its 4-tuple). */
function linkTraffic(file: Buffer, barrierToken: string): LinkTraffic {
  const frames = readEthernetCapture(file);
  const undecoded = frames.flatMap((f) => (f.kind === 'other' ? [`packet ${f.packetIndex}: ${f.reason}`] : []));
  assert.deepEqual(undecoded, [], 'every captured frame is IPv4 TCP (a `tcp` filter also matches IPv6)');
  const segments = frames.flatMap((f) => (f.kind === 'tcp' ? [f.segment] : []));
  const barrier = reassembleTcpStreams(segments).find((s) => s.data.includes(barrierToken));
  assert.ok(barrier, 'the barrier request is in the capture');
  const isBarrier = (s: { sourceIp: string; sourcePort: number; destinationIp: string; destinationPort: number }): boolean =>
    (s.sourceIp === barrier.sourceIp && s.sourcePort === barrier.sourcePort && s.destinationIp === barrier.destinationIp && s.destinationPort === barrier.destinationPort) ||
    (s.sourceIp === barrier.destinationIp && s.sourcePort === barrier.destinationPort && s.destinationIp === barrier.sourceIp && s.destinationPort === barrier.sourcePort);
  const kept = segments.filter((s) => !isBarrier(s));
  return { segments: kept, streams: reassembleTcpStreams(kept) };
}

const onPort = (s: { sourcePort: number; destinationPort: number }, port: number): boolean => s.sourcePort === port || s.destinationPort === port;

/** Payload-carrying segments that are not node-to-node traffic on the HBONE or CA port. */
function foreignPayloads(traffic: LinkTraffic): string[] {
  const nodes = new Set(Object.values(nodeIps));
  return traffic.segments
    .filter((s) => s.payload.length > 0)
    .filter((s) => !(nodes.has(s.sourceIp) && nodes.has(s.destinationIp) && (onPort(s, HBONE_PORT) || onPort(s, CA_PORT))))
    .map((s) => `packet ${s.packetIndex}: ${s.sourceIp}:${s.sourcePort} -> ${s.destinationIp}:${s.destinationPort}, ${s.payload.length} bytes: ${JSON.stringify(s.payload.subarray(0, 40).toString('latin1'))}`);
}

/** Every HBONE stream direction with data ends on a TLS record boundary (nothing in flight). */
function hboneStreamsSettled(file: Buffer): boolean {
  const segments = readEthernetCapture(file).flatMap((f) => (f.kind === 'tcp' ? [f.segment] : []));
  return reassembleTcpStreams(segments)
    .filter((s) => onPort(s, HBONE_PORT) && s.data.length > 0)
    .every((s) => parseTlsRecords(s.data).trailingBytes === 0);
}

function describeStream(s: TcpDirectionStream): string {
  return `${s.sourceIp}:${s.sourcePort} -> ${s.destinationIp}:${s.destinationPort}`;
}

before(async () => {
  bed = await BedFixture.up('e2e-mtls');
  work = await makeTempDir('e2e-mtls-work');
  const status = await bed.status();
  nodeIps = Object.fromEntries(status.nodes.map((n) => [n.name, n.ip]));
  bridgeNetns = bridgeNetnsName(bedPrefix(bed.state));
  assert.equal(status.nodes[0]!.netns, `${bedPrefix(bed.state)}-node-1`, 'the bed names its namespaces as bed-naming.ts says');
  await bed.kubectl(['create', 'namespace', ns]);
  await bed.kubectl(['label', 'namespace', ns, 'weft.io/mesh=enabled']);
  await bed.kubectl(['-n', ns, 'create', 'serviceaccount', clientSa]);
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: ns },
    spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } };
  await bed.kubectl(['apply', '-f', '-'], stringifyYaml(service));
  await bed.runEcho('echo', ns, 'node-2', 'http', 8080, 'app=echo');
  await bed.bedOk(['run', 'client', '-n', ns, '--node', 'node-1', '--labels', 'app=client', '--service-account', clientSa, '--', 'sleep', 'infinity']);
  serviceIp = (await bed.kubectl(['-n', ns, 'get', 'service', 'echo', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
  const echoIp = (await bed.status()).pods.find((p) => p.namespace === ns && p.name === 'echo')!.ip;
  await waitFor(async () => {
    const out = await bed.kubectl(['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=echo', '-o', 'jsonpath={.items[*].endpoints[*].addresses[*]}']);
    return out.trim() === echoIp;
  }, { timeoutMs: 60_000, what: 'the echo pod as the only endpoint of its Service' });
  // Ready for mesh traffic: the client is steered into node-1's proxy and both ends hold a certificate.
  await waitFor(async () => sumMetric(await bed.metrics('node-1'), 'weft_enrolled_pods') === 1, { timeoutMs: 60_000, what: 'the client enrolled on node-1' });
  await waitFor(async () => (await debugIdentities('node-1')).certificates.some((c) => c.identity === clientIdentity), { timeoutMs: 60_000, what: `a certificate for ${clientIdentity} on node-1` });
  await waitFor(async () => (await debugIdentities('node-2')).certificates.some((c) => c.identity === echoIdentity), { timeoutMs: 60_000, what: `a certificate for ${echoIdentity} on node-2` });
});

after(async () => {
  try {
    for (const capture of captures) await capture.stop();
    if (stoppedCaPid !== undefined) process.kill(stoppedCaPid, 'SIGCONT');
  } finally {
    try {
      await bed?.down();
    } finally {
      await work?.remove();
    }
  }
});

test('a cross-node request is carried only as TLS on 15008: its marker never crosses the link in the clear', async () => {
  const capture = await startBridgeCapture('cross-node');
  const secret = marker();
  const body = `a request body carrying ${secret} across the link`;
  const result = await waitFor(async () => {
    const r = await bed.exec('client', ns, ['curl', '-s', '-f', '-m', '10', '-X', 'POST', '-H', `x-weft-marker: ${secret}`, '--data-binary', body, `http://${serviceIp}/capture`]);
    return r.code === 0 && r;
  }, { timeoutMs: 60_000, what: 'the client served through the mesh' });
  const answer = JSON.parse(result.stdout) as EchoAnswer;
  assert.equal(answer.pod, 'echo');
  assert.equal(answer.method, 'POST');
  assert.equal(answer.bodyBytes, Buffer.byteLength(body), 'the whole body arrived');
  // The echo sends the header back, so the marker crossed the link in both directions.
  assert.equal(answer.headers['x-weft-marker'], secret);
  assert.equal(answer.peer.split(':')[0], nodeIps['node-2'], "delivered by node-2's agent (HBONE), not by the client directly");

  const barrier = await captureBarrier(capture, hboneStreamsSettled);
  const file = await stopCapture(capture);
  const traffic = linkTraffic(file, barrier);

  // (a) the marker appears nowhere: not in the file, not split across segments of any stream
  assert.equal(file.indexOf(secret), -1, 'the marker is not in the capture file');
  for (const stream of traffic.streams) assert.ok(!stream.data.includes(secret), `the marker is not in the stream ${describeStream(stream)}`);

  // (b) the request did cross the link, on 15008, both ways
  const hbonePayloads = traffic.segments.filter((s) => s.payload.length > 0 && onPort(s, HBONE_PORT));
  assert.ok(hbonePayloads.some((s) => s.sourceIp === nodeIps['node-1'] && s.destinationIp === nodeIps['node-2'] && s.destinationPort === HBONE_PORT),
    'node-1 sent data to node-2:15008');
  assert.ok(hbonePayloads.some((s) => s.sourceIp === nodeIps['node-2'] && s.sourcePort === HBONE_PORT), 'node-2:15008 answered');
  assert.ok(hbonePayloads.reduce((n, s) => n + s.payload.length, 0) > Buffer.byteLength(body), 'at least the body went over 15008');

  // (c) nothing else crossed: only node-to-node payloads on 15008 (HBONE) or 15012 (CA)
  assert.deepEqual(foreignPayloads(traffic), []);

  // (d) each direction of each 15008 connection is TLS from its first byte to its last
  const hboneStreams = traffic.streams.filter((s) => onPort(s, HBONE_PORT) && s.data.length > 0);
  assert.ok(hboneStreams.length >= 2);
  for (const stream of hboneStreams) {
    const what = describeStream(stream);
    assert.ok(stream.synSeen, `${what}: the capture saw the connection open, so the stream is whole`);
    assert.deepEqual(stream.holes, [], `${what}: no bytes missing from the capture`);
    const tls = parseTlsRecords(stream.data); // throws at the first byte that is not TLS framing
    assert.equal(tls.trailingBytes, 0, `${what}: ends on a record boundary`);
    assert.equal(tls.records[0]!.contentType, 22, `${what}: starts with a handshake record`);
    assert.ok(tls.records.some((r) => r.contentType === 23), `${what}: carries application data records`);
  }
});

test("the backend sees the caller's verified SPIFFE ID, and a forged identity header is replaced", async () => {
  const forged = `spiffe://cluster.local/ns/kube-system/sa/cluster-admin`;
  for (const headers of [[], ['-H', `x-weft-peer-identity: ${forged}`], ['-H', `X-Weft-Peer-Identity: ${forged}`, '-H', `x-weft-peer-identity: ${forged}`]]) {
    const what = `a request with ${headers.length / 2} forged header(s)`;
    const result = await bed.exec('client', ns, ['curl', '-s', '-f', '-m', '10', ...headers, `http://${serviceIp}/identity`]);
    assert.equal(result.code, 0, `${what}: ${result.stderr}`);
    const answer = JSON.parse(result.stdout) as EchoAnswer;
    assert.equal(answer.pod, 'echo');
    // Node's HTTP server joins repeated headers with ", ": exactly one value means exactly one header.
    assert.equal(answer.headers['x-weft-peer-identity'], clientIdentity, what);
  }
  // Two requests on one client connection (keep-alive): the second is rewritten as well.
  const twice = await bed.exec('client', ns, ['curl', '-s', '-v', '-f', '-m', '10', '-w', '\\n', '-H', `x-weft-peer-identity: ${forged}`,
    `http://${serviceIp}/keep-alive-1`, `http://${serviceIp}/keep-alive-2`]);
  assert.equal(twice.code, 0, twice.stderr);
  assert.match(twice.stderr, /Re-using existing connection/, 'curl sent both requests on one connection');
  const answers = twice.stdout.trim().split('\n').map((line) => JSON.parse(line) as EchoAnswer);
  assert.deepEqual(answers.map((a) => [a.url, a.headers['x-weft-peer-identity']]), [
    ['/keep-alive-1', clientIdentity],
    ['/keep-alive-2', clientIdentity],
  ]);
});

test('a declined upgrade does not open the connection to forged identities (the reported attack)', async () => {
  // One client connection: an upgrade the backend declines with a 200, then a request that
  // carries a forged identity. Both must reach the backend with the caller's verified one.
  const forged = 'spiffe://cluster.local/ns/bank/sa/vault-admin';
  const result = await bed.exec('client', ns, [process.execPath, rawHttpClient, serviceIp, '80',
    'GET /ws HTTP/1.1\r\nHost: echo\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
    `GET /second HTTP/1.1\r\nHost: echo\r\nx-weft-peer-identity: ${forged}\r\n\r\n`]);
  assert.equal(result.code, 0, result.stderr);
  const { answers } = JSON.parse(result.stdout) as { answers: { status: number; body: string }[] };
  const seen = answers.map((a) => {
    const echo = JSON.parse(a.body) as EchoAnswer;
    return [a.status, echo.url, echo.headers['x-weft-peer-identity']];
  });
  assert.deepEqual(seen, [
    [200, '/ws', clientIdentity],
    [200, '/second', clientIdentity],
  ]);
});

test('a self-signed certificate with a plausible SPIFFE ID is refused at 15008, counted, and delivers nothing', async () => {
  const cert = join(work.path, 'forged-cert.pem');
  const key = join(work.path, 'forged-key.pem');
  await execFileAsync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
    '-subj', '/CN=forged', '-addext', `subjectAltName=URI:${clientIdentity}`,
  ]);
  const forgedSerial = normalSerial((await execFileAsync('openssl', ['x509', '-in', cert, '-noout', '-serial'])).stdout.trim().replace(/^serial=/, ''));
  const destinationOpened = { reporter: 'destination' };
  const metricsBefore = await bed.metrics('node-2');
  const forgedReason = { direction: 'inbound', reason: 'DEPTH_ZERO_SELF_SIGNED_CERT' };
  const failuresBefore = sumMetric(metricsBefore, 'weft_tls_handshake_failures_total', forgedReason);
  const openedBefore = sumMetric(metricsBefore, 'weft_tcp_connections_opened_total', destinationOpened);

  // -ign_eof: s_client keeps reading after its (empty) stdin ends, so it exits only when node-2
  // closes the connection; `timeout` turns a hang into exit 124 instead of a stuck test.
  const sClient = await bed.bed(['exec', '--node', 'node-1', '--', 'timeout', '30', 'openssl', 's_client', '-ign_eof',
    '-connect', `${nodeIps['node-2']}:${HBONE_PORT}`, '-cert', cert, '-key', key,
    '-servername', `default.${ns}.sa.weft`, '-alpn', 'h2', '-tls1_3'], { timeoutMs: 60_000 });
  const output = `${sClient.stdout}\n${sClient.stderr}`;
  assert.notEqual(sClient.code, 124, `node-2 closed the connection (s_client did not hang): ${output}`);
  assert.notEqual(sClient.code, 0, `s_client failed: ${output}`);
  assert.match(sClient.stdout, /^CONNECTED\(/m, 'the TCP connection was made: the refusal is TLS, not the network');
  assert.match(sClient.stdout, /Weft root CA for cluster\.local/, 'node-2 presented its mesh certificate for the SNI identity before refusing the client');
  assert.match(sClient.stderr, /unexpected eof while reading|reset by peer|errno=104|alert/i, 'node-2 ended the connection instead of serving it');

  // Counted under the verification error, so a forged certificate is told from a client that hung up.
  const failuresAfter = await waitFor(async () => {
    const n = sumMetric(await bed.metrics('node-2'), 'weft_tls_handshake_failures_total', forgedReason);
    return n > failuresBefore && n;
  }, { timeoutMs: 15_000, what: 'weft_tls_handshake_failures_total{direction="inbound",reason="DEPTH_ZERO_SELF_SIGNED_CERT"} to grow on node-2' });
  assert.ok(failuresAfter > failuresBefore);
  assert.equal(sumMetric(await bed.metrics('node-2'), 'weft_tcp_connections_opened_total', destinationOpened), openedBefore, 'no connection was delivered to a pod');
  const sessions = (await debugIdentities('node-2')).inboundSessions;
  assert.ok(!sessions.some((s) => normalSerial(s.peerCertificateSerial) === forgedSerial),
    `no inbound session runs on the forged certificate: ${JSON.stringify(sessions)}`);
});

test('a client without any certificate is refused at 15008 with a TLS alert and counted', async () => {
  const failuresBefore = sumMetric(await bed.metrics('node-2'), 'weft_tls_handshake_failures_total', { direction: 'inbound' });
  const sClient = await bed.bed(['exec', '--node', 'node-1', '--', 'timeout', '30', 'openssl', 's_client', '-ign_eof',
    '-connect', `${nodeIps['node-2']}:${HBONE_PORT}`, '-servername', `default.${ns}.sa.weft`, '-alpn', 'h2', '-tls1_3'], { timeoutMs: 60_000 });
  const output = `${sClient.stdout}\n${sClient.stderr}`;
  assert.notEqual(sClient.code, 124, `node-2 closed the connection (s_client did not hang): ${output}`);
  assert.notEqual(sClient.code, 0, `s_client failed: ${output}`);
  assert.match(sClient.stderr, /alert certificate required/i, 'TLS 1.3 certificate_required alert from node-2');
  await waitFor(async () => sumMetric(await bed.metrics('node-2'), 'weft_tls_handshake_failures_total', { direction: 'inbound' }) > failuresBefore,
    { timeoutMs: 15_000, what: 'weft_tls_handshake_failures_total{direction="inbound"} to grow on node-2' });
});

test("destination metrics name the caller's principal; certificates and CA requests are visible", async () => {
  const destinationLabels = { reporter: 'destination', source_principal: clientIdentity, connection_security_policy: 'mutual_tls' };
  // The proxy keeps upstream connections alive across requests, so this request need not open a
  // new tunnel; it makes sure at least one exists when this test runs on its own.
  const result = await bed.exec('client', ns, ['curl', '-s', '-f', '-m', '10', `http://${serviceIp}/metrics-check`]);
  assert.equal(result.code, 0, result.stderr);
  const node2 = await bed.metrics('node-2');
  const opened = sumMetric(node2, 'weft_tcp_connections_opened_total', destinationLabels);
  assert.ok(opened >= 1, `node-2 counted the tunnelled connection with the caller's principal (${opened})`);
  assert.ok(sumMetric(node2, 'weft_tcp_connections_opened_total', { ...destinationLabels, destination_workload: 'echo', destination_namespace: ns, source_namespace: ns }) >= 1);

  const node1 = await bed.metrics('node-1');
  const expiry = node1.find((s) => s.name === 'weft_identity_cert_expiry_timestamp_seconds' && s.labels['identity'] === clientIdentity);
  assert.ok(expiry, `node-1 exports the expiry of ${clientIdentity}`);
  const hoursLeft = (expiry.value - Date.now() / 1000) / 3600;
  assert.ok(hoursLeft > 23 && hoursLeft <= 24.1, `the client's certificate expires in about 24 h (${hoursLeft.toFixed(2)} h)`);
  const debugCert = (await debugIdentities('node-1')).certificates.find((c) => c.identity === clientIdentity)!;
  assert.equal(Math.floor(Date.parse(debugCert.notAfter) / 1000), expiry.value, 'the metric and /debug/identities agree');
  assert.ok(sumMetric(node1, 'weft_ca_requests_total', { result: 'ok' }) >= 1, 'node-1 got its certificates from weft ca');
  assert.ok(sumMetric(node2, 'weft_ca_requests_total', { result: 'ok' }) >= 1, 'node-2 got its certificates from weft ca');
});

test('a workload without a certificate is refused (ERR_PROXY_NO_IDENTITY), never sent in plaintext', async () => {
  // The CA answers no one while stopped, so a pod of a new service account can get no
  // certificate; the bed's supervisor does not restart a stopped (as opposed to dead) CA.
  const caPid = (await bed.status()).ca?.pid;
  assert.ok(caPid, 'the bed runs weft ca');
  const uncertifiedSa = uniqueName('no-cert');
  const uncertifiedIdentity = `spiffe://cluster.local/ns/${ns}/sa/${uncertifiedSa}`;
  process.kill(caPid, 'SIGSTOP');
  stoppedCaPid = caPid;
  try {
    await bed.kubectl(['-n', ns, 'create', 'serviceaccount', uncertifiedSa]);
    await bed.bedOk(['run', 'uncertified', '-n', ns, '--node', 'node-1', '--service-account', uncertifiedSa, '--', 'sleep', 'infinity']);
    await waitFor(async () => sumMetric(await bed.metrics('node-1'), 'weft_enrolled_pods') === 2, { timeoutMs: 60_000, what: 'the uncertified pod enrolled on node-1' });
    assert.ok(!(await debugIdentities('node-1')).certificates.some((c) => c.identity === uncertifiedIdentity), 'no certificate for the new service account');

    const capture = await startBridgeCapture('no-identity');
    const secret = marker();
    const result = await bed.exec('uncertified', ns, ['curl', '-s', '-i', '-m', '10', '--data-binary', `body with ${secret}`, `http://${serviceIp}/${secret}`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^HTTP\/1\.1 503/, result.stdout);
    assert.match(result.stdout, /^x-weft-error: ERR_PROXY_NO_IDENTITY\r?$/im);

    const barrier = await captureBarrier(capture);
    const file = await stopCapture(capture);
    const traffic = linkTraffic(file, barrier);
    assert.equal(file.indexOf(secret), -1, 'the marker is not in the capture file');
    for (const stream of traffic.streams) assert.ok(!stream.data.includes(secret), `the marker is not in the stream ${describeStream(stream)}`);
    assert.deepEqual(foreignPayloads(traffic), [], 'no plaintext crossed the link');
    const echoLog = await readFile(join(bed.state, 'logs', 'pods', `${ns}_echo.log`), 'utf8');
    assert.ok(!echoLog.includes(secret), 'the backend never saw the request');
  } finally {
    process.kill(caPid, 'SIGCONT');
    stoppedCaPid = undefined;
  }
  // With the CA back, the same pod gets its certificate and is served: the refusal was about the identity.
  await waitFor(async () => (await debugIdentities('node-1')).certificates.some((c) => c.identity === uncertifiedIdentity), { timeoutMs: 60_000, what: `a certificate for ${uncertifiedIdentity} once the CA is back` });
  const served = await waitFor(async () => {
    const r = await bed.exec('uncertified', ns, ['curl', '-s', '-f', '-m', '10', `http://${serviceIp}/after-ca`]);
    return r.code === 0 && r;
  }, { timeoutMs: 60_000, what: 'the formerly uncertified pod served' });
  assert.equal((JSON.parse(served.stdout) as EchoAnswer).headers['x-weft-peer-identity'], uncertifiedIdentity);
});
