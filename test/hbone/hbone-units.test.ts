// Units of the HBONE code: the SNI encoding of identities, reading a peer's SPIFFE ID, CONNECT
// authorities, which streams the destination parses as HTTP/1.x, and the identity header.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConnectAuthority } from '../../agent/src/hbone/connect-authority.js';
import { detectInboundProtocol, MAX_FIRST_LINE_BYTES } from '../../agent/src/hbone/inbound-protocol.js';
import { setPeerIdentityHeader } from '../../agent/src/hbone/peer-identity.js';
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

describe('which tunnel streams take the HTTP/1.x parser', () => {
  const verdict = (text: string): string => detectInboundProtocol(Buffer.from(text, 'latin1'));

  test('an HTTP/1.x request line, in any spelling a backend might accept, takes the parser', () => {
    for (const line of [
      'GET / HTTP/1.1\r\n',
      'GET / HTTP/1.1\n', // bare LF
      '\r\n\r\nGET / HTTP/1.1\r\n', // empty lines before it (servers skip them)
      'get /lower http/1.1\r\n', // lower case: llhttp refuses it, so it must not bypass llhttp
      'PROPFIND /dav HTTP/1.1\r\n',
      'GET\t/ HTTP/1.0\r\n',
      'GET /a b c HTTP/9.9\r\n',
    ]) {
      assert.equal(verdict(line), 'http1', JSON.stringify(line));
    }
  });

  test('every byte prefix of a request line is undecided, never opaque', () => {
    const line = '\r\nPOST /api/orders?x=1 HTTP/1.1\r\n';
    for (let i = 1; i < line.length - 1; i++) assert.equal(verdict(line.slice(0, i)), 'undecided', JSON.stringify(line.slice(0, i)));
    assert.equal(verdict(line), 'http1');
  });

  test('other protocols are opaque at once or after their first line', () => {
    assert.equal(verdict('\x16\x03\x01\x02\x00'), 'opaque', 'a TLS ClientHello');
    assert.equal(verdict('*1\r\n$4\r\nPING\r\n'), 'opaque', 'Redis RESP');
    assert.equal(verdict('get key\r\n'), 'opaque', 'memcached text');
    assert.equal(verdict('SSH-2.0-OpenSSH_9.2\r\n'), 'opaque');
    assert.equal(verdict(' GET / HTTP/1.1\r\n'), 'opaque', 'a leading space is no request line');
    assert.equal(verdict('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'http2-prior-knowledge');
  });

  test('an HTTP-like first line that never ends is refused, not passed on', () => {
    assert.equal(verdict(`GET /${'a'.repeat(MAX_FIRST_LINE_BYTES)}`), 'refused');
    assert.equal(verdict(`${'A'.repeat(MAX_FIRST_LINE_BYTES + 1)}`), 'refused');
    assert.equal(verdict('\r\n'.repeat(MAX_FIRST_LINE_BYTES)), 'refused');
  });
});

describe('setPeerIdentityHeader', () => {
  test('removes every client-sent copy in any case and appends the verified identity', () => {
    const headers = ['Host', 'x', 'X-Weft-Peer-Identity', 'forged-1', 'accept', '*/*', 'x-weft-peer-identity', 'forged-2', 'X-WEFT-PEER-IDENTITY', 'forged-3'];
    setPeerIdentityHeader(headers, ID);
    assert.deepEqual(headers, ['Host', 'x', 'accept', '*/*', 'x-weft-peer-identity', ID]);
  });
});
