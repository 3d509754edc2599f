// TLS record framing on hand-made streams: what passes and what is caught as not TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTlsRecords, TlsFramingError } from './tls-record-stream.js';

function record(contentType: number, length: number, version = 0x0303): Buffer {
  const header = Buffer.from([contentType, version >> 8, version & 0xff, length >> 8, length & 0xff]);
  return Buffer.concat([header, Buffer.alloc(length, 0x5a)]);
}

test('a TLS 1.3 client stream parses record by record, ClientHello with 0x0301', () => {
  const stream = Buffer.concat([record(22, 256, 0x0301), record(20, 1), record(23, 1000), record(23, 16384 + 256), record(21, 19)]);
  const parsed = parseTlsRecords(stream);
  assert.deepEqual(parsed.records.map((r) => [r.contentType, r.version, r.length]), [
    [22, 0x0301, 256], [20, 0x0303, 1], [23, 0x0303, 1000], [23, 0x0303, 16640], [21, 0x0303, 19],
  ]);
  assert.equal(parsed.records[1]!.offset, 261);
  assert.equal(parsed.trailingBytes, 0);
});

test('a stream that ends inside a record reports the trailing bytes', () => {
  const stream = Buffer.concat([record(22, 10), record(23, 100).subarray(0, 30)]);
  assert.deepEqual([parseTlsRecords(stream).records.length, parseTlsRecords(stream).trailingBytes], [1, 30]);
  assert.equal(parseTlsRecords(Buffer.concat([record(22, 10), Buffer.from([23, 3])])).trailingBytes, 2);
});

test('plaintext is not TLS, wherever it shows up', () => {
  assert.throws(() => parseTlsRecords(Buffer.from('POST / HTTP/1.1\r\n')), (err: Error) => err instanceof TlsFramingError && err.offset === 0 && /content type 80/.test(err.message));
  assert.throws(() => parseTlsRecords(Buffer.concat([record(22, 4), Buffer.from('weft-marker')])), (err: Error) => err instanceof TlsFramingError && err.offset === 9);
  // HTTP/2 preface in the clear starts with 'P' (80): also caught
  assert.throws(() => parseTlsRecords(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), TlsFramingError);
});

test('versions and lengths are checked', () => {
  assert.throws(() => parseTlsRecords(record(23, 5, 0x0301)), /legacy version 0x0301/, '0x0301 only on a first ClientHello');
  assert.throws(() => parseTlsRecords(Buffer.concat([record(22, 5), record(22, 5, 0x0301)])), /legacy version 0x0301/);
  assert.throws(() => parseTlsRecords(record(22, 5, 0x0300)), /legacy version 0x0300/);
  assert.throws(() => parseTlsRecords(record(23, 16384 + 257)), /exceeds 16640/);
  assert.throws(() => parseTlsRecords(record(22, 0)), /empty handshake record/);
});
