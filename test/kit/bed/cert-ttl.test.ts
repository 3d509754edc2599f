import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCertTtl } from './cert-ttl.js';
import { UsageError } from './cli-args.js';

test('cert TTLs: seconds or h/m/s units, at least a minute, the text kept as given', () => {
  assert.deepEqual(parseCertTtl('24h'), { text: '24h', seconds: 86_400 });
  assert.deepEqual(parseCertTtl('1m30s'), { text: '1m30s', seconds: 90 });
  assert.deepEqual(parseCertTtl('60'), { text: '60', seconds: 60 });
  assert.throws(() => parseCertTtl('59s'), /at least 60s, got "59s"/);
  assert.throws(() => parseCertTtl('1d'), UsageError);
  assert.throws(() => parseCertTtl('-5m'), /must be a duration/);
  assert.throws(() => parseCertTtl(''), /must be a duration/);
});
