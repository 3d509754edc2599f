import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SelectorParseError, matchesFieldSelector, matchesLabelSelector, parseFieldSelector, parseLabelSelector,
  supportedFieldSelectors,
} from './selectors.js';
import { readGoldenFixture } from './golden-fixture.js';

describe('label selectors', () => {
  const parseCases: { text: string; requirements: { key: string; operator: string; values: string[] }[] }[] = [
    { text: '', requirements: [] },
    { text: 'app=web', requirements: [{ key: 'app', operator: '=', values: ['web'] }] },
    { text: 'app==web', requirements: [{ key: 'app', operator: '=', values: ['web'] }] },
    { text: 'app!=web', requirements: [{ key: 'app', operator: '!=', values: ['web'] }] },
    { text: 'app=', requirements: [{ key: 'app', operator: '=', values: [''] }] },
    { text: ' env in ( prod , dev ) ', requirements: [{ key: 'env', operator: 'in', values: ['dev', 'prod'] }] },
    { text: 'env notin (qa)', requirements: [{ key: 'env', operator: 'notin', values: ['qa'] }] },
    { text: 'tier', requirements: [{ key: 'tier', operator: 'exists', values: [] }] },
    { text: '!tier', requirements: [{ key: 'tier', operator: '!', values: [] }] },
    { text: 'example.com/role=db', requirements: [{ key: 'example.com/role', operator: '=', values: ['db'] }] },
    { text: 'in=notin', requirements: [{ key: 'in', operator: '=', values: ['notin'] }] },
    {
      text: 'a=b, c!=d,e in (x),!f,g',
      requirements: [
        { key: 'a', operator: '=', values: ['b'] },
        { key: 'c', operator: '!=', values: ['d'] },
        { key: 'e', operator: 'in', values: ['x'] },
        { key: 'f', operator: '!', values: [] },
        { key: 'g', operator: 'exists', values: [] },
      ],
    },
  ];
  for (const c of parseCases) {
    test(`parses ${JSON.stringify(c.text)}`, () => {
      assert.deepEqual(parseLabelSelector(c.text).requirements, c.requirements);
    });
  }

  const errorCases: { text: string; message: string }[] = [
    { text: 'app=web,', message: "found '', expected: identifier after ','" },
    { text: '=web', message: "found '=', expected: !, identifier, or 'end of string'" },
    { text: 'a b', message: "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt" },
    { text: '!a=b', message: "found '=', expected: ',' or 'end of string'" },
    { text: 'env in ()', message: "unable to parse requirement: values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty" },
    { text: 'env in prod', message: "unable to parse requirement: found 'prod' expected: '('" },
    {
      text: 'app=a$',
      message: 'unable to parse requirement: values[0][app]: Invalid value: "a$": a valid label must be an empty string or consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character (e.g. \'MyValue\',  or \'my_value\',  or \'12345\', regex used for validation is \'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\')',
    },
    {
      text: '-bad=x',
      message: 'unable to parse requirement: <nil>: Invalid value: "-bad": name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character (e.g. \'MyName\',  or \'my.name\',  or \'123-abc\', regex used for validation is \'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\')',
    },
    { text: 'a<b', message: "unable to parse requirement: operator '<' is not supported by this server's label selectors" },
    { text: 'a in (x', message: "unable to parse requirement: found '', expected: ',' or ')'" },
  ];
  for (const c of errorCases) {
    test(`rejects ${JSON.stringify(c.text)}`, () => {
      assert.throws(() => parseLabelSelector(c.text), (err: unknown) => {
        assert.ok(err instanceof SelectorParseError, `expected SelectorParseError, got ${String(err)}`);
        assert.equal(err.message, c.message);
        return true;
      });
    });
  }

  const labels = { app: 'web', env: 'prod', 'example.com/tier': 'front' };
  const matchCases: [string, Record<string, string> | undefined, boolean][] = [
    ['', labels, true],
    ['', undefined, true],
    ['app=web', labels, true],
    ['app=db', labels, false],
    ['app!=db', labels, true],
    ['missing!=x', labels, true],
    ['app!=web', labels, false],
    ['env in (prod,dev)', labels, true],
    ['env in (dev)', labels, false],
    ['env notin (dev)', labels, true],
    ['missing notin (dev)', labels, true],
    ['env notin (prod)', labels, false],
    ['example.com/tier', labels, true],
    ['missing', labels, false],
    ['!missing', labels, true],
    ['!app', labels, false],
    ['app=web,env=dev', labels, false],
    ['app=web,env=prod', labels, true],
    ['app', undefined, false],
    ['!app', undefined, true],
  ];
  for (const [text, l, expected] of matchCases) {
    test(`${JSON.stringify(text)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(l)}`, () => {
      assert.equal(matchesLabelSelector(parseLabelSelector(text), l), expected);
    });
  }
});

describe('field selectors', () => {
  test('parses operators and escapes', () => {
    assert.deepEqual(parseFieldSelector('metadata.name=a,spec.nodeName==n1,status.phase!=Running').requirements, [
      { path: 'metadata.name', operator: '=', value: 'a' },
      { path: 'spec.nodeName', operator: '=', value: 'n1' },
      { path: 'status.phase', operator: '!=', value: 'Running' },
    ]);
    assert.deepEqual(parseFieldSelector('metadata.name=a\\,b\\=c\\\\d').requirements, [
      { path: 'metadata.name', operator: '=', value: 'a,b=c\\d' },
    ]);
    assert.deepEqual(parseFieldSelector('').requirements, []);
    assert.deepEqual(parseFieldSelector('spec.nodeName=').requirements, [{ path: 'spec.nodeName', operator: '=', value: '' }]);
  });

  const errorCases: [string, string][] = [
    ['metadata.name', "invalid selector: 'metadata.name'; can't understand 'metadata.name'"],
    ['a=b,c', "invalid selector: 'a=b,c'; can't understand 'c'"],
    ['a=b\\x', 'invalid field selector: invalid escape sequence: \\x'],
    ['a=b\\', 'invalid field selector: invalid escape sequence: \\'],
    ['a==b=c', 'invalid field selector: unescaped character in value: ='],
  ];
  for (const [text, message] of errorCases) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseFieldSelector(text), (err: unknown) => err instanceof SelectorParseError && err.message === message);
    });
  }

  test('matches the pod of the golden list by spec.nodeName, status.phase and metadata', () => {
    const list = readGoldenFixture('pod-list-fieldselector.json');
    const pod = list.items[0];
    assert.equal(pod.spec.nodeName, 'node-1', 'fixture changed: expected a pod on node-1');
    const cases: [string, boolean][] = [
      ['spec.nodeName=node-1', true],
      ['spec.nodeName=node-2', false],
      ['spec.nodeName!=node-2', true],
      [`status.phase=${pod.status.phase}`, true],
      ['status.phase=Pending', false],
      [`metadata.name=${pod.metadata.name},metadata.namespace=${pod.metadata.namespace}`, true],
      ['metadata.namespace=other', false],
      ['status.nominatedNodeName=', true],
      ['spec.missing.deeper!=', false],
    ];
    for (const [text, expected] of cases) assert.equal(matchesFieldSelector(parseFieldSelector(text), pod), expected, text);
  });

  test('booleans and numbers compare as their text', () => {
    const node = { spec: { unschedulable: true }, status: { capacity: { pods: 110 } } };
    assert.equal(matchesFieldSelector(parseFieldSelector('spec.unschedulable=true'), node), true);
    assert.equal(matchesFieldSelector(parseFieldSelector('status.capacity.pods=110'), node), true);
    // A real Node without spec.unschedulable has the Go zero value, false.
    assert.equal(matchesFieldSelector(parseFieldSelector('spec.unschedulable=false'), { spec: {} }), true);
    assert.equal(matchesFieldSelector(parseFieldSelector('spec.unschedulable=true'), {}), false);
  });

  test('supported field labels per kind', () => {
    assert.deepEqual([...supportedFieldSelectors('ConfigMap')].sort(), ['metadata.name', 'metadata.namespace']);
    const pod = supportedFieldSelectors('Pod');
    for (const f of ['spec.nodeName', 'status.phase', 'status.podIP', 'spec.serviceAccountName', 'metadata.name']) assert.ok(pod.has(f), f);
    assert.equal(pod.has('spec.hostname'), false);
    assert.ok(supportedFieldSelectors('Secret').has('type'));
    assert.ok(supportedFieldSelectors('Event').has('involvedObject.name'));
    assert.ok(supportedFieldSelectors('Node').has('spec.unschedulable'));
    assert.ok(supportedFieldSelectors('Namespace').has('status.phase'));
    assert.equal(supportedFieldSelectors('Widget').has('spec.size'), false);
  });
});
