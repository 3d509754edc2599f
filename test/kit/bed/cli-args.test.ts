import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError, integerFlag, parseCommandLine, positionals, repeatedFlag, stringFlag } from './cli-args.js';

test('run: flags, aliases, repeated ports and the command after --', () => {
  const parsed = parseCommandLine(['run', 'web', '-n', 'shop', '--node', 'node-2', '--port', '80', '--port=443', '--state', '/tmp/s', '--', 'python3', '-m', 'http.server', '--bind', '0.0.0.0']);
  assert.equal(parsed.command, 'run');
  assert.deepEqual(positionals(parsed, ['name']), ['web']);
  assert.equal(stringFlag(parsed, 'namespace'), 'shop');
  assert.equal(stringFlag(parsed, 'node'), 'node-2');
  assert.equal(stringFlag(parsed, 'state'), '/tmp/s');
  assert.deepEqual(repeatedFlag(parsed, 'port'), ['80', '443']);
  // Flags of the command after -- belong to it, not to the bed.
  assert.deepEqual(parsed.rest, ['python3', '-m', 'http.server', '--bind', '0.0.0.0']);
});

test('bad command lines are UsageErrors that say what is wrong', () => {
  assert.throws(() => parseCommandLine([]), UsageError);
  assert.throws(() => parseCommandLine(['launch']), /unknown command "launch"/);
  assert.throws(() => parseCommandLine(['up', '--bogus']), /unknown flag --bogus for "up"/);
  assert.throws(() => parseCommandLine(['run', 'x', '--node']), /--node needs a value/);
  assert.throws(() => parseCommandLine(['up', '--no-agent=yes']), /takes no value/);
  assert.throws(() => parseCommandLine(['up', '--nodes', '1', '--nodes', '2']), /given twice/);
  assert.throws(() => integerFlag(parseCommandLine(['up', '--nodes', 'two']), 'nodes', 1, 200), /--nodes must be an integer from 1 to 200, got "two"/);
  assert.throws(() => integerFlag(parseCommandLine(['up', '--nodes', '0']), 'nodes', 1, 200), UsageError);
  assert.throws(() => positionals(parseCommandLine(['status', 'extra']), []), /"status" takes no arguments, got: extra/);
  assert.equal(integerFlag(parseCommandLine(['up', '--nodes', '3']), 'nodes', 1, 200), 3);
});
