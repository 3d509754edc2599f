// Ages must read like kubectl's own ("45s", "3m20s", "5h", "12d").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration } from './human-duration.js';

test('human durations follow the apimachinery rules', () => {
  const s = 1000;
  const cases: [number, string][] = [
    [-5 * s, '<invalid>'], [0, '0s'], [45 * s, '45s'], [119 * s, '119s'], [200 * s, '3m20s'], [180 * s, '3m'],
    [30 * 60 * s, '30m'], [5 * 3600 * s, '5h'], [5.5 * 3600 * s, '5h30m'], [30 * 3600 * s, '30h'],
    [3 * 86400 * s, '3d'], [3.25 * 86400 * s, '3d6h'], [100 * 86400 * s, '100d'], [3 * 365 * 86400 * s, '3y'],
  ];
  for (const [ms, text] of cases) assert.equal(humanDuration(ms), text, `${ms} ms`);
});
