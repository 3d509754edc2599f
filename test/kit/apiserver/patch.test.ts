import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir, type TempDir } from '../../support/temp-dir.js';
import { PatchError, applyJsonMergePatch, applyJsonPatch, applyStrategicMergePatch, supportsStrategicMerge } from './patch.js';
import { readGoldenFixture } from './golden-fixture.js';

function frozen<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) frozen(v);
    Object.freeze(value);
  }
  return value;
}

describe('JSON merge patch (RFC 7386)', () => {
  // The examples of RFC 7386 appendix A.
  const cases: [unknown, unknown, unknown][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, expected] of cases) {
    test(`${JSON.stringify(target)} + ${JSON.stringify(patch)}`, () => {
      assert.deepEqual(applyJsonMergePatch(frozen(structuredClone(target)), frozen(structuredClone(patch))), expected);
    });
  }

  test('kubectl label/annotate style patches', () => {
    const obj = { metadata: { name: 'x', labels: { a: '1', b: '2' } }, spec: { ports: [{ port: 80 }] } };
    const result = applyJsonMergePatch(frozen(structuredClone(obj)), { metadata: { labels: { a: null, c: '3' }, annotations: { note: 'hi' } } });
    assert.deepEqual(result, { metadata: { name: 'x', labels: { b: '2', c: '3' }, annotations: { note: 'hi' } }, spec: { ports: [{ port: 80 }] } });
  });

  test('the result shares nothing with the inputs', () => {
    const target = { spec: { a: { deep: 1 } } };
    const result = applyJsonMergePatch(target, { other: 1 }) as typeof target;
    result.spec.a.deep = 2;
    assert.equal(target.spec.a.deep, 1);
  });
});

describe('JSON patch (RFC 6902)', () => {
  const doc = { metadata: { name: 'x', labels: { 'a/b': '1', 'c~d': '2' } }, spec: { list: [1, 2, 3] } };
  const cases: [string, unknown[], unknown][] = [
    ['add a member', [{ op: 'add', path: '/metadata/labels/new', value: 'v' }], { ...doc, metadata: { ...doc.metadata, labels: { ...doc.metadata.labels, new: 'v' } } }],
    ['add into an array', [{ op: 'add', path: '/spec/list/1', value: 9 }], { ...doc, spec: { list: [1, 9, 2, 3] } }],
    ['append with -', [{ op: 'add', path: '/spec/list/-', value: 4 }], { ...doc, spec: { list: [1, 2, 3, 4] } }],
    ['remove an escaped key', [{ op: 'remove', path: '/metadata/labels/a~1b' }], { ...doc, metadata: { ...doc.metadata, labels: { 'c~d': '2' } } }],
    ['replace an escaped key', [{ op: 'replace', path: '/metadata/labels/c~0d', value: '3' }], { ...doc, metadata: { ...doc.metadata, labels: { 'a/b': '1', 'c~d': '3' } } }],
    ['remove from an array', [{ op: 'remove', path: '/spec/list/0' }], { ...doc, spec: { list: [2, 3] } }],
    ['move', [{ op: 'move', from: '/spec/list', path: '/spec/moved' }], { ...doc, spec: { moved: [1, 2, 3] } }],
    ['copy', [{ op: 'copy', from: '/metadata/name', path: '/spec/name' }], { ...doc, spec: { list: [1, 2, 3], name: 'x' } }],
    ['test then replace', [{ op: 'test', path: '/metadata/name', value: 'x' }, { op: 'replace', path: '/metadata/name', value: 'y' }], { ...doc, metadata: { ...doc.metadata, name: 'y' } }],
    ['replace the root', [{ op: 'replace', path: '', value: { a: 1 } }], { a: 1 }],
  ];
  for (const [name, ops, expected] of cases) {
    test(name, () => {
      assert.deepEqual(applyJsonPatch(frozen(structuredClone(doc)), frozen(structuredClone(ops))), expected);
    });
  }

  const errorCases: [string, unknown, RegExp][] = [
    ['a failed test', [{ op: 'test', path: '/metadata/name', value: 'nope' }], /^testing value \/metadata\/name failed: test failed$/],
    ['a test of a missing path', [{ op: 'test', path: '/nope', value: 1 }], /^testing value \/nope failed/],
    ['remove of a missing key', [{ op: 'remove', path: '/metadata/nope' }], /unable to remove nonexistent key: nope/],
    ['replace of a missing key', [{ op: 'replace', path: '/metadata/nope', value: 1 }], /doc is missing key: \/metadata\/nope/],
    ['add under a missing parent', [{ op: 'add', path: '/status/phase', value: 'x' }], /doc is missing path: "\/status\/phase"/],
    ['an index out of range', [{ op: 'add', path: '/spec/list/7', value: 1 }], /index out of bounds/],
    ['a bad pointer', [{ op: 'add', path: 'spec', value: 1 }], /JSON pointer must be empty or start with a "\/"/],
    ['an unknown op', [{ op: 'frobnicate', path: '/spec' }], /^Unexpected kind: frobnicate$/],
    ['add without a value', [{ op: 'add', path: '/spec/x' }], /missing value/],
    ['a patch that is not a list', { op: 'add' }, /cannot unmarshal object into Go value of type jsonpatch.Patch/],
    ['a move into its own child', [{ op: 'move', from: '/spec', path: '/spec/list/0' }], /cannot move/],
  ];
  for (const [name, ops, message] of errorCases) {
    test(`refuses ${name}`, () => {
      assert.throws(() => applyJsonPatch(doc, ops), (err: unknown) => err instanceof PatchError && message.test(err.message));
    });
  }

  test('a failing operation leaves the input untouched', () => {
    const input = structuredClone(doc);
    assert.throws(() => applyJsonPatch(input, [{ op: 'add', path: '/x', value: 1 }, { op: 'test', path: '/x', value: 2 }]), PatchError);
    assert.deepEqual(input, doc);
  });
});

describe('strategic merge patch', () => {
  const pod = frozen(readGoldenFixture('create-pod.json'));

  test('merges containers by name, ports by containerPort and env by name', () => {
    const base = frozen({
      spec: {
        containers: [
          { name: 'a', image: 'a:1', ports: [{ containerPort: 80, name: 'http' }], env: [{ name: 'X', value: '1' }, { name: 'Y', value: '2' }] },
          { name: 'b', image: 'b:1' },
        ],
      },
    });
    const result = applyStrategicMergePatch(base, {
      spec: { containers: [{ name: 'a', image: 'a:2', ports: [{ containerPort: 443 }], env: [{ name: 'Y', value: '3' }] }, { name: 'c', image: 'c:1' }] },
    }, 'Pod');
    assert.deepEqual(result, {
      spec: {
        containers: [
          // As in Kubernetes: the patch's items in patch order, server-only items slotted in after.
          { name: 'a', image: 'a:2', ports: [{ containerPort: 443 }, { containerPort: 80, name: 'http' }], env: [{ name: 'X', value: '1' }, { name: 'Y', value: '3' }] },
          { name: 'c', image: 'c:1' },
          { name: 'b', image: 'b:1' },
        ],
      },
    });
  });

  test('lists without a merge key are replaced (tolerations, args)', () => {
    const base = frozen({ spec: { tolerations: [{ key: 'a' }], containers: [{ name: 'a', args: ['x', 'y'] }] } });
    const result = applyStrategicMergePatch(base, { spec: { tolerations: [{ key: 'b' }], containers: [{ name: 'a', args: ['z'] }] } }, 'Pod');
    assert.deepEqual(result, { spec: { tolerations: [{ key: 'b' }], containers: [{ name: 'a', args: ['z'] }] } });
  });

  test('labels and annotations merge, null deletes (kubectl label/annotate)', () => {
    const result = applyStrategicMergePatch(pod, { metadata: { labels: { app: null, tier: 'web' }, annotations: { note: 'x' } } }, 'Pod') as any;
    assert.deepEqual(result.metadata.labels, { tier: 'web' });
    assert.deepEqual(result.metadata.annotations, { note: 'x' });
    assert.equal(result.metadata.name, pod.metadata.name);
    assert.deepEqual(result.spec, pod.spec);
  });

  test('Service ports merge by port; Node addresses and Pod conditions by type', () => {
    const svc = frozen({ spec: { ports: [{ port: 80, targetPort: 8080 }, { port: 443 }] } });
    assert.deepEqual(applyStrategicMergePatch(svc, { spec: { ports: [{ port: 80, targetPort: 9090 }] } }, 'Service'), {
      spec: { ports: [{ port: 80, targetPort: 9090 }, { port: 443 }] },
    });
    const node = frozen({ status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname', address: 'n1' }] } });
    assert.deepEqual(applyStrategicMergePatch(node, { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.2' }] } }, 'Node'), {
      status: { addresses: [{ type: 'InternalIP', address: '10.0.0.2' }, { type: 'Hostname', address: 'n1' }] },
    });
    const scheduled = applyStrategicMergePatch(pod, { status: { conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'False' }] } }, 'Pod');
    const patched = applyStrategicMergePatch(scheduled, { status: { conditions: [{ type: 'Ready', status: 'True' }] } }, 'Pod') as any;
    assert.deepEqual(patched.status.conditions, [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }]);
    assert.equal(patched.status.phase, pod.status.phase);
  });

  test('finalizers merge as a set; $deleteFromPrimitiveList removes', () => {
    const ns = frozen({ metadata: { finalizers: ['a', 'b'] } });
    assert.deepEqual(applyStrategicMergePatch(ns, { metadata: { finalizers: ['b', 'c'] } }, 'ConfigMap'), { metadata: { finalizers: ['a', 'b', 'c'] } });
    assert.deepEqual(applyStrategicMergePatch(ns, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }, 'ConfigMap'), { metadata: { finalizers: ['b'] } });
  });

  test('ownerReferences merge by uid', () => {
    const obj = frozen({ metadata: { ownerReferences: [{ uid: '1', name: 'a' }] } });
    assert.deepEqual(applyStrategicMergePatch(obj, { metadata: { ownerReferences: [{ uid: '2', name: 'b' }] } }, 'Pod'), {
      metadata: { ownerReferences: [{ uid: '2', name: 'b' }, { uid: '1', name: 'a' }] },
    });
  });

  test('$patch: delete removes a keyed item; $patch: replace replaces a list or a map', () => {
    const base = frozen({ spec: { containers: [{ name: 'a', image: 'a' }, { name: 'b', image: 'b' }], nodeSelector: { x: '1', y: '2' } } });
    assert.deepEqual(applyStrategicMergePatch(base, { spec: { containers: [{ name: 'a', $patch: 'delete' }] } }, 'Pod'), {
      spec: { containers: [{ name: 'b', image: 'b' }], nodeSelector: { x: '1', y: '2' } },
    });
    assert.deepEqual(applyStrategicMergePatch(base, { spec: { containers: [{ $patch: 'replace' }, { name: 'z', image: 'z' }] } }, 'Pod'), {
      spec: { containers: [{ name: 'z', image: 'z' }], nodeSelector: { x: '1', y: '2' } },
    });
    assert.deepEqual(applyStrategicMergePatch(base, { spec: { nodeSelector: { $patch: 'replace', z: '3' } } }, 'Pod'), {
      spec: { containers: base.spec.containers, nodeSelector: { z: '3' } },
    });
    assert.deepEqual(applyStrategicMergePatch(base, { spec: { nodeSelector: { $patch: 'delete' } } }, 'Pod'), {
      spec: { containers: base.spec.containers },
    });
  });

  test('$retainKeys drops the keys not listed (volume source switch)', () => {
    const base = frozen({ spec: { volumes: [{ name: 'v', emptyDir: {} }] } });
    const result = applyStrategicMergePatch(base, { spec: { volumes: [{ name: 'v', $retainKeys: ['configMap', 'name'], configMap: { name: 'cm' } }] } }, 'Pod');
    assert.deepEqual(result, { spec: { volumes: [{ name: 'v', configMap: { name: 'cm' } }] } });
  });

  test('a kubectl apply patch with $setElementOrder: order applied, no directive leaks', () => {
    const base = frozen({ spec: { containers: [{ name: 'a', image: 'a:1' }, { name: 'b', image: 'b:1' }] }, metadata: { finalizers: ['x', 'y'] } });
    const patch = {
      metadata: { '$setElementOrder/finalizers': ['y', 'x'] },
      spec: {
        '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }],
        containers: [{ name: 'a', image: 'a:2' }],
      },
    };
    const result = applyStrategicMergePatch(base, patch, 'Pod');
    assert.deepEqual(result, { spec: { containers: [{ name: 'b', image: 'b:1' }, { name: 'a', image: 'a:2' }] }, metadata: { finalizers: ['y', 'x'] } });
    assert.doesNotMatch(JSON.stringify(result), /\$/);
  });

  test('new items and maps lose their null members; nested directives never leak', () => {
    const result = applyStrategicMergePatch({}, { spec: { containers: [{ name: 'a', image: null, env: [{ name: 'E', $patch: 'merge' }] }] } }, 'Pod');
    assert.deepEqual(result, { spec: { containers: [{ name: 'a', env: [{ name: 'E' }] }] } });
  });

  test('an item without its merge key, a bad directive or a non-object patch is a PatchError', () => {
    assert.throws(() => applyStrategicMergePatch(pod, { spec: { containers: [{ image: 'x' }] } }, 'Pod'), /does not contain declared merge key: name/);
    assert.throws(() => applyStrategicMergePatch(pod, { spec: { $patch: 'explode' } }, 'Pod'), /Unknown patch directive: explode/);
    assert.throws(() => applyStrategicMergePatch(pod, [], 'Pod'), (err: unknown) => err instanceof PatchError && /cannot unmarshal array/.test(err.message));
  });

  test('inputs are never mutated', () => {
    const base = { spec: { containers: [{ name: 'a', env: [{ name: 'X', value: '1' }] }] } };
    const before = structuredClone(base);
    const patch = { spec: { containers: [{ name: 'a', env: [{ name: 'X', value: '2' }] }] } };
    const patchBefore = structuredClone(patch);
    const result = applyStrategicMergePatch(base, patch, 'Pod') as any;
    result.spec.containers[0].env[0].value = 'changed';
    assert.deepEqual(base, before);
    assert.deepEqual(patch, patchBefore);
  });

  test('supportsStrategicMerge: built-ins yes, custom resources no', () => {
    for (const kind of ['Pod', 'Service', 'Node', 'Namespace', 'ConfigMap', 'Secret', 'ServiceAccount', 'EndpointSlice', 'Lease']) assert.ok(supportsStrategicMerge(kind), kind);
    assert.equal(supportsStrategicMerge('Widget'), false);
  });
});

/** JSON with map keys sorted, as Go's encoder writes them, so only list order and values count. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v);
}

// Differential check against Kubernetes' own Go implementation: `kubectl patch --local` applies a
// strategic merge patch with the same apimachinery code a kube-apiserver runs, without a server.
describe('strategic merge patch agrees with kubectl patch --local', () => {
  let dir: TempDir;
  before(async () => {
    dir = await makeTempDir('smp');
  });
  after(async () => {
    await dir?.remove();
  });

  const run = promisify(execFile);
  async function kubectlPatch(obj: object, patch: object): Promise<unknown> {
    const file = join(dir.path, 'object.json');
    await writeFile(file, JSON.stringify(obj));
    try {
      const { stdout } = await run('kubectl', ['patch', '--local', '-f', file, '--type', 'strategic', '-p', JSON.stringify(patch), '-o', 'json'], {
        env: { ...process.env, KUBECONFIG: join(dir.path, 'no-kubeconfig') },
      });
      return JSON.parse(stdout);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === 'ENOENT') throw new Error('kubectl is not installed; it is needed as the reference strategic merge implementation');
      throw new Error(`kubectl patch --local failed: ${e.stderr ?? e.message}`);
    }
  }

  const pod = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'p', labels: { a: '1' }, finalizers: ['x', 'y'], ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'u1' }] },
    spec: {
      containers: [
        { name: 'a', image: 'a:1', ports: [{ containerPort: 80 }], env: [{ name: 'X', value: '1' }], volumeMounts: [{ name: 'v', mountPath: '/v' }] },
        { name: 'b', image: 'b:1' },
      ],
      tolerations: [{ key: 't' }],
      volumes: [{ name: 'v', emptyDir: {} }],
      nodeSelector: { zone: 'a' },
    },
    status: { conditions: [{ type: 'Ready', status: 'False' }], podIPs: [{ ip: '10.0.0.1' }] },
  };
  const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ name: 'a', port: 80, targetPort: 8080 }, { name: 'b', port: 443 }], selector: { app: 'x' } } };
  const node = {
    apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec: { podCIDRs: ['10.0.0.0/24'] },
    status: { addresses: [{ type: 'InternalIP', address: '1.1.1.1' }, { type: 'Hostname', address: 'n' }], conditions: [{ type: 'Ready', status: 'False' }] },
  };
  const cases: [string, object, object][] = [
    ['kubectl apply style: $setElementOrder, $retainKeys, finalizers', pod, {
      metadata: { '$setElementOrder/finalizers': ['y', 'x', 'z'], finalizers: ['z'] },
      spec: {
        '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }],
        containers: [{ name: 'a', image: 'a:2', ports: [{ containerPort: 443 }] }],
        volumes: [{ name: 'v', $retainKeys: ['configMap', 'name'], configMap: { name: 'cm' } }],
      },
    }],
    ['$patch: delete of a container', pod, { spec: { containers: [{ name: 'a', $patch: 'delete' }] } }],
    ['$patch: replace of the containers', pod, { spec: { containers: [{ $patch: 'replace' }, { name: 'c', image: 'c' }] } }],
    ['labels set and removed', pod, { metadata: { labels: { a: null, b: '2' } } }],
    ['$deleteFromPrimitiveList', pod, { metadata: { '$deleteFromPrimitiveList/finalizers': ['x'] } }],
    ['a replace-strategy list', pod, { spec: { tolerations: [{ key: 'u' }] } }],
    ['a new env var goes first', pod, { spec: { containers: [{ name: 'a', env: [{ name: 'Y', value: '2' }] }] } }],
    ['the last env var deleted', pod, { spec: { containers: [{ name: 'a', env: [{ name: 'X', $patch: 'delete' }] }] } }],
    ['a new container ordered by $setElementOrder', pod, { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }, { name: 'b' }], containers: [{ name: 'c', image: 'c' }] } }],
    ['$setElementOrder alone reorders', pod, { spec: { '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }] } }],
    // (`$patch: delete` on a map leaves `{}` in kubectl's unstructured output but nothing once a
    // server decodes into the typed Pod; this module drops the field, as the server's answer does.)
    ['a map deleted with null', pod, { spec: { nodeSelector: null } }],
    ['nested maps merge', pod, { spec: { containers: [{ name: 'a', resources: { limits: { cpu: '1' } }, volumeMounts: [{ mountPath: '/w', name: 'w' }] }] } }],
    ['ownerReferences by uid, status conditions by type, podIPs by ip', pod, {
      metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n', uid: 'u2' }] },
      status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'PodScheduled', status: 'True' }], podIPs: [{ ip: 'fd00::1' }] },
    }],
    ['Service ports: reorder and update', service, { spec: { '$setElementOrder/ports': [{ port: 443 }, { port: 80 }], ports: [{ port: 80, targetPort: 9090 }] } }],
    ['Service ports: add, selector replaced', service, { spec: { ports: [{ port: 8443, name: 'c' }], selector: { $patch: 'replace', app: 'y' } } }],
    ['Node podCIDRs set, addresses and conditions by type', node, {
      spec: { podCIDRs: ['10.0.1.0/24'] },
      status: { addresses: [{ type: 'InternalIP', address: '2.2.2.2' }], conditions: [{ type: 'MemoryPressure', status: 'False' }] },
    }],
  ];
  for (const [name, obj, patch] of cases) {
    test(name, async () => {
      const expected = await kubectlPatch(obj, patch);
      const actual = applyStrategicMergePatch(frozen(structuredClone(obj)), frozen(structuredClone(patch)), (obj as { kind: string }).kind);
      assert.equal(canonical(actual), canonical(expected));
    });
  }
});
