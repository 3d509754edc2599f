// Units of the HBONE code: the SNI encoding of identities, reading a peer's SPIFFE ID, CONNECT
// authorities, and the x-weft-peer-identity injector on raw HTTP/1.x byte streams.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConnectAuthority } from '../../agent/src/hbone/connect-authority.js';
import { PeerIdentityHeaderInjector } from '../../agent/src/hbone/peer-identity-header.js';
import { peerSpiffeId } from '../../agent/src/hbone/peer-spiffe-id.js';
import { identityFromSni, sniForIdentity } from '../../agent/src/hbone/sni-identity.js';

const ID = 'spiffe://cluster.local/ns/demo/sa/client';

describe('SNI names of identities', () => {
  test('round trip, service accounts with dots included; foreign names are not identities', () => {
    assert.equal(sniForIdentity('spiffe://cluster.local/ns/demo/sa/web'), 'web.demo.sa.weft');
    assert.equal(identityFromSni('web.demo.sa.weft', 'cluster.local'), 'spiffe://cluster.local/ns/demo/sa/web');
    assert.equal(sniForIdentity('spiffe://td/ns/prod/sa/build.bot'), 'build.bot.prod.sa.weft');
    assert.equal(identityFromSni('build.bot.prod.sa.weft', 'td'), 'spiffe://td/ns/prod/sa/build.bot');
    assert.equal(identityFromSni('example.com', 'td'), undefined);
    assert.equal(identityFromSni('demo.sa.weft', 'td'), undefined);
    assert.equal(identityFromSni('Web_.demo.sa.weft', 'td'), undefined);
    assert.throws(() => sniForIdentity('spiffe://td/not/a/workload'), /not a workload identity/);
  });
});

describe('peer SPIFFE IDs', () => {
  test('exactly one URI SAN that is a workload SPIFFE ID', () => {
    assert.deepEqual(peerSpiffeId(`URI:${ID}`), {
      ok: true,
      spiffeId: ID,
      identity: { trustDomain: 'cluster.local', namespace: 'demo', serviceAccount: 'client' },
    });
    assert.equal(peerSpiffeId(`DNS:x.example, URI:${ID}`).ok, true);
    assert.equal(peerSpiffeId(undefined).ok, false);
    assert.match((peerSpiffeId('DNS:x.example') as { reason: string }).reason, /0 URI SANs/);
    assert.match((peerSpiffeId(`URI:${ID}, URI:${ID}`) as { reason: string }).reason, /2 URI SANs/);
    assert.equal(peerSpiffeId('URI:https://cluster.local/ns/demo/sa/client').ok, false);
  });
});

describe('CONNECT authorities', () => {
  test('IPv4 and bracketed IPv6 with a port; names and junk are refused', () => {
    assert.deepEqual(parseConnectAuthority('10.244.1.7:8080'), { ip: '10.244.1.7', port: 8080 });
    assert.deepEqual(parseConnectAuthority('[fd00::7]:80'), { ip: 'fd00::7', port: 80 });
    for (const bad of [undefined, '', 'web.demo:80', '10.0.0.1', '10.0.0.1:0', '10.0.0.1:65536', '10.0.0.1:8x', 'fd00::7:80', '[fd00::7]']) {
      assert.equal(parseConnectAuthority(bad), undefined, String(bad));
    }
  });
});

/** Feeds `chunks` through a fresh injector and returns what it emitted. */
async function inject(chunks: string[], onUpgrade: (injector: PeerIdentityHeaderInjector) => void = () => undefined): Promise<string> {
  let injector!: PeerIdentityHeaderInjector;
  injector = new PeerIdentityHeaderInjector(ID, () => setImmediate(() => onUpgrade(injector)));
  const out: Buffer[] = [];
  injector.on('data', (chunk: Buffer) => out.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    injector.once('end', resolve);
    injector.once('error', reject);
  });
  for (const chunk of chunks) injector.write(chunk, 'latin1');
  injector.end();
  await done;
  return Buffer.concat(out).toString('latin1');
}

describe('PeerIdentityHeaderInjector', () => {
  const header = `x-weft-peer-identity: ${ID}\r\n`;

  test('adds the header to each head, strips forged ones, also when heads arrive byte by byte', async () => {
    const input = 'GET /a HTTP/1.1\r\nHost: x\r\nX-WEFT-PEER-IDENTITY: forged\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n';
    const expected = `GET /a HTTP/1.1\r\nHost: x\r\n${header}\r\nGET /b HTTP/1.1\r\nHost: x\r\n${header}\r\n`;
    assert.equal(await inject([input]), expected);
    assert.equal(await inject([...input]), expected);
  });

  test('bodies pass untouched (content-length and chunked with trailers)', async () => {
    const body = 'GET /evil HTTP/1.1\r\nx-weft-peer-identity: forged\r\n\r\n';
    const input =
      `POST /a HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
      `POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)};ext=1\r\n${body}\r\n0\r\nTrailer: t\r\n\r\n` +
      'GET /c HTTP/1.1\r\n\r\n';
    const output = await inject([input]);
    assert.equal(output.split(header).length - 1, 3, 'three heads, three headers');
    assert.equal(output.split('x-weft-peer-identity: forged').length - 1, 2, 'bodies untouched');
    assert.ok(output.endsWith(`GET /c HTTP/1.1\r\n${header}\r\n`));
  });

  test('non-HTTP streams pass through untouched', async () => {
    assert.equal(await inject(['\x16\x03\x01 binary', ' more']), '\x16\x03\x01 binary more');
    assert.equal(await inject(['SSH-2.0-OpenSSH\r\n', 'x-weft-peer-identity: x\r\n\r\n']), 'SSH-2.0-OpenSSH\r\nx-weft-peer-identity: x\r\n\r\n');
  });

  test('an accepted upgrade makes the rest opaque; a declined one keeps parsing (no forged header slips through)', async () => {
    const upgrade = 'GET /ws HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n';
    const after = 'GET /next HTTP/1.1\r\nx-weft-peer-identity: forged\r\n\r\n';
    const switched = await inject([upgrade, after], (injector) => injector.upgradeAnswered(true));
    assert.ok(switched.endsWith(after), 'after a 101 the bytes are opaque');
    const declined = await inject([upgrade, after], (injector) => injector.upgradeAnswered(false));
    assert.ok(declined.endsWith(`GET /next HTTP/1.1\r\n${header}\r\n`), declined);
    assert.ok(!declined.includes('forged'));
  });

  test('framing that cannot be followed fails the stream', async () => {
    await assert.rejects(inject(['POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n']), /both Transfer-Encoding and Content-Length/);
    await assert.rejects(inject(['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']), /invalid chunk size/);
    await assert.rejects(inject(['POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n']), /conflicting Content-Length/);
  });
});
