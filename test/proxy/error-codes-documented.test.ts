// Every stable proxy error code must be documented in docs/errors.md under its own heading,
// and the documented HTTP status must be the one error-responses.ts really sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ALL_PROXY_ERROR_CODES, ProxyErrorCode } from '../../agent/src/proxy/error-codes.js';
import { statusForErrorCode } from '../../agent/src/proxy/error-responses.js';
import { repoRoot } from '../support/repo-root.js';

const docs = readFileSync(path.join(repoRoot, 'docs', 'errors.md'), 'utf8');

function sectionOf(code: string): string | undefined {
  const start = docs.indexOf(`\n### ${code}\n`);
  if (start < 0) return undefined;
  const next = docs.indexOf('\n### ', start + 1);
  return docs.slice(start, next < 0 ? undefined : next);
}

test('every proxy error code has a section in docs/errors.md', () => {
  const missing = ALL_PROXY_ERROR_CODES.filter((code) => sectionOf(code) === undefined);
  assert.deepEqual(missing, [], `undocumented error codes: ${missing.join(', ')}`);
});

test('the documented HTTP status matches the one sent', () => {
  for (const code of ALL_PROXY_ERROR_CODES) {
    if (code === ProxyErrorCode.NO_ORIGINAL_DESTINATION) continue; // no response at all, by design
    const status = statusForErrorCode(code);
    assert.match(sectionOf(code) ?? '', new RegExp(`HTTP: \\*\\*${status} `), `${code} is documented with ${status}`);
  }
});

test('codes are unique and follow the ERR_PROXY_ naming (ERR_AUTHZ_ for policy decisions)', () => {
  assert.equal(new Set(ALL_PROXY_ERROR_CODES).size, ALL_PROXY_ERROR_CODES.length);
  for (const code of ALL_PROXY_ERROR_CODES) assert.match(code, /^ERR_(PROXY|AUTHZ)_[A-Z_]+$/);
});
