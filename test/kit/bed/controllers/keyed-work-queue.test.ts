import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedWorkQueue } from './keyed-work-queue.js';

/** A promise the test resolves by hand, to hold a reconcile "in flight". */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('KeyedWorkQueue', () => {
  test('coalesces adds of a queued key and never runs one key twice at once', async () => {
    const calls: string[] = [];
    let concurrentA = 0;
    let maxConcurrentA = 0;
    const first = gate();
    const queue = new KeyedWorkQueue(
      async (key) => {
        calls.push(key);
        if (key === 'a') {
          concurrentA += 1;
          maxConcurrentA = Math.max(maxConcurrentA, concurrentA);
          if (calls.filter((k) => k === 'a').length === 1) await first.promise;
          concurrentA -= 1;
        }
      },
      { workers: 4, onError: (key, err) => assert.fail(`unexpected failure of ${key}: ${String(err)}`) },
    );
    queue.add('a'); // starts running, held by the gate
    queue.add('a'); // arrives mid-reconcile: one more run afterwards
    queue.add('a'); // coalesced with the previous one
    queue.add('b'); // other keys are not blocked
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls, ['a', 'b']);
    first.open();
    await queue.idle();
    assert.deepEqual(calls, ['a', 'b', 'a']);
    assert.equal(maxConcurrentA, 1);
  });

  test('retries a failing key with backoff until it succeeds, reporting each failure', async () => {
    let attempts = 0;
    const failures: number[] = [];
    const queue = new KeyedWorkQueue(
      async () => {
        attempts += 1;
        if (attempts < 3) throw new Error(`attempt ${attempts} fails`);
      },
      { retryInitialMs: 5, onError: (_key, _err, retryInMs) => failures.push(retryInMs) },
    );
    queue.add('k');
    await queue.idle(); // idle waits for pending retries too
    assert.equal(attempts, 3);
    assert.deepEqual(failures, [5, 10]);
  });

  test('stop drops pending retries and ignores later adds', async () => {
    let attempts = 0;
    const queue = new KeyedWorkQueue(
      async () => {
        attempts += 1;
        throw new Error('always fails');
      },
      { retryInitialMs: 60_000, onError: () => {} },
    );
    queue.add('k');
    await new Promise((resolve) => setImmediate(resolve));
    queue.stop();
    queue.add('k');
    await queue.idle();
    assert.equal(attempts, 1);
  });
});
