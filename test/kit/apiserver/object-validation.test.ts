import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { invalidMessage, validateBuiltin, validateObjectMeta } from './object-validation.js';
import type { FieldCause } from './schema-validation.js';
import { readGoldenFixture } from './golden-fixture.js';

const dns1123Label = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const dns1123Subdomain = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

describe('validateBuiltin: the golden invalid Service', () => {
  test('same causes and message as the real server', () => {
    const golden = readGoldenFixture('error-422-invalid.json');
    const service = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'Bad_Name', namespace: 'golden' }, spec: { ports: [{ port: 0 }] } };
    const causes = validateBuiltin('Service', service);
    assert.deepEqual(causes, golden.details.causes);
    assert.equal(invalidMessage('Service', 'Bad_Name', causes), golden.message);
  });
});

describe('validateObjectMeta', () => {
  const cases: { name: string; meta: object; rule: 'dns1123subdomain' | 'dns1035label' | 'dns1123label' | 'path'; causes: FieldCause[] }[] = [
    { name: 'a valid subdomain name', meta: { name: 'web.example-1' }, rule: 'dns1123subdomain', causes: [] },
    { name: 'no name', meta: {}, rule: 'dns1123subdomain', causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }] },
    {
      name: 'a subdomain with capitals',
      meta: { name: 'Web' },
      rule: 'dns1123subdomain',
      causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: "Web": ${dns1123Subdomain}`, field: 'metadata.name' }],
    },
    {
      name: 'a namespace name with a dot',
      meta: { name: 'a.b' },
      rule: 'dns1123label',
      causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: "a.b": ${dns1123Label}`, field: 'metadata.name' }],
    },
    {
      name: 'a label name too long',
      meta: { name: 'a'.repeat(64) },
      rule: 'dns1123label',
      causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: "${'a'.repeat(64)}": must be no more than 63 characters`, field: 'metadata.name' }],
    },
    { name: 'generateName may end with a dash', meta: { generateName: 'web-' }, rule: 'dns1035label', causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }] },
    { name: 'path names refuse slashes', meta: { name: 'a/b' }, rule: 'path', causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: "a/b": may not contain \'/\'', field: 'metadata.name' }] },
    {
      name: 'bad label key and value',
      meta: { name: 'x', labels: { 'bad key': 'ok', good: 'bad value!' } },
      rule: 'dns1123subdomain',
      causes: [
        { reason: 'FieldValueInvalid', message: 'Invalid value: "bad key": name part must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character (e.g. \'MyName\',  or \'my.name\',  or \'123-abc\', regex used for validation is \'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\')', field: 'metadata.labels' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: "bad value!": a valid label must be an empty string or consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character (e.g. \'MyValue\',  or \'my_value\',  or \'12345\', regex used for validation is \'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\')', field: 'metadata.labels' },
      ],
    },
    {
      name: 'a bad annotation key prefix',
      meta: { name: 'x', annotations: { 'Example.com/a': 'v', '/b': 'v' } },
      rule: 'dns1123subdomain',
      causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: "/b": prefix part must be non-empty', field: 'metadata.annotations' }],
    },
    {
      name: 'annotations over 256 KiB',
      meta: { name: 'x', annotations: { big: 'x'.repeat(256 * 1024) } },
      rule: 'dns1123subdomain',
      causes: [{ reason: 'FieldValueTooLong', message: 'Too long: may not be longer than 262144', field: 'metadata.annotations' }],
    },
    {
      name: 'a bad namespace and a bad finalizer',
      meta: { name: 'x', namespace: 'Bad', finalizers: ['example.com/ok', 'a/b/c'] },
      rule: 'dns1123subdomain',
      causes: [
        { reason: 'FieldValueInvalid', message: `Invalid value: "Bad": ${dns1123Label}`, field: 'metadata.namespace' },
        { reason: 'FieldValueInvalid', message: 'Invalid value: "a/b/c": a qualified name must consist of alphanumeric characters, \'-\', \'_\' or \'.\', and must start and end with an alphanumeric character (e.g. \'MyName\',  or \'my.name\',  or \'123-abc\', regex used for validation is \'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]\') with an optional DNS subdomain prefix and \'/\' (e.g. \'example.com/MyName\')', field: 'metadata.finalizers' },
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(validateObjectMeta({ metadata: c.meta }, c.rule), c.causes);
    });
  }
});

describe('validateBuiltin per kind', () => {
  const fields = (causes: FieldCause[]): string[] => causes.map((c) => `${c.field}: ${c.message}`);
  const cases: { name: string; kind: string; obj: object; expect: string[] }[] = [
    { name: 'a valid Service', kind: 'Service', obj: { metadata: { name: 'web' }, spec: { ports: [{ name: 'http', port: 80, targetPort: 'http-alt', protocol: 'TCP' }], selector: { app: 'web' } } }, expect: [] },
    { name: 'a headless Service needs no ports', kind: 'Service', obj: { metadata: { name: 'h' }, spec: { clusterIP: 'None' } }, expect: [] },
    { name: 'a Service without ports', kind: 'Service', obj: { metadata: { name: 'web' }, spec: {} }, expect: ['spec.ports: Required value'] },
    {
      name: 'Service ports: names, protocol, range, duplicates',
      kind: 'Service',
      obj: { metadata: { name: 'web' }, spec: { ports: [{ port: 80, protocol: 'ICMP' }, { name: 'a', port: 80 }, { name: 'a', port: 70000, targetPort: 'Bad_Name' }, { name: 'b', port: 80 }] } },
      expect: [
        'spec.ports[0].name: Required value',
        'spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        'spec.ports[2].name: Duplicate value: "a"',
        'spec.ports[2].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
        'spec.ports[2].targetPort: Invalid value: "Bad_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        'spec.ports[3]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
      ],
    },
    {
      name: 'Service type, clusterIP and nodePort',
      kind: 'Service',
      obj: { metadata: { name: 'web' }, spec: { type: 'Magic', clusterIP: '10.96.0.300', ports: [{ port: 80 }] } },
      expect: [
        'spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      ],
    },
    {
      name: 'a ClusterIP Service may not set nodePort',
      kind: 'Service',
      obj: { metadata: { name: 'web' }, spec: { clusterIP: 'fd00::1', ports: [{ port: 80, nodePort: 30000 }] } },
      expect: ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
    },
    { name: 'a valid Pod', kind: 'Pod', obj: readGoldenFixture('create-pod.json'), expect: [] },
    { name: 'a Pod without containers', kind: 'Pod', obj: { metadata: { name: 'p' }, spec: {} }, expect: ['spec.containers: Required value'] },
    {
      name: 'Pod containers: name, image, ports, env',
      kind: 'Pod',
      obj: { metadata: { name: 'p' }, spec: { restartPolicy: 'Sometimes', containers: [{ name: 'C', ports: [{ containerPort: 0 }, { containerPort: 99999, protocol: 'HTTP' }], env: [{ name: '1X' }] }, { image: 'x' }] } },
      expect: [
        `spec.containers[0].name: Invalid value: "C": ${dns1123Label}`,
        'spec.containers[0].image: Required value',
        'spec.containers[0].ports[0].containerPort: Required value',
        'spec.containers[0].ports[1].containerPort: Invalid value: 99999: must be between 1 and 65535, inclusive',
        'spec.containers[0].ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        'spec.containers[0].env[0].name: Invalid value: "1X": a valid environment variable name must consist of alphabetic characters, digits, \'_\', \'-\', or \'.\', and must not start with a digit (e.g. \'my.env-name\',  or \'MY_ENV.NAME\',  or \'MyEnvName1\', regex used for validation is \'[-._a-zA-Z][-._a-zA-Z0-9]*\')',
        'spec.containers[1].name: Required value',
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
      ],
    },
    {
      name: 'a valid EndpointSlice',
      kind: 'EndpointSlice',
      obj: { metadata: { name: 'web-abc' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.0.0.1'], nodeName: 'node-1' }], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
      expect: [],
    },
    {
      name: 'EndpointSlice address type and addresses',
      kind: 'EndpointSlice',
      obj: { metadata: { name: 'web-abc' }, addressType: 'IPv5', endpoints: [{ addresses: [] }] },
      expect: [
        'addressType: Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"',
        'endpoints[0].addresses: Required value: must contain at least 1 address',
      ],
    },
    {
      name: 'EndpointSlice IPv4 addresses must be IPv4',
      kind: 'EndpointSlice',
      obj: { metadata: { name: 'e' }, addressType: 'IPv4', endpoints: [{ addresses: ['fd00::1'] }] },
      expect: ['endpoints[0].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address'],
    },
    {
      name: 'ConfigMap keys',
      kind: 'ConfigMap',
      obj: { metadata: { name: 'c' }, data: { 'ok.key': 'v', 'bad/key': 'v', '..x': 'v', dup: 'v' }, binaryData: { dup: 'dg==' } },
      expect: [
        'data[bad/key]: Invalid value: "bad/key": a valid config key must consist of alphanumeric characters, \'-\', \'_\' or \'.\' (e.g. \'key.name\',  or \'KEY_NAME\',  or \'key-name\', regex used for validation is \'[-._a-zA-Z0-9]+\')',
        'data[..x]: Invalid value: "..x": must not start with \'..\'',
        'data[dup]: Invalid value: "dup": duplicate of key present in binaryData',
        'binaryData[dup]: Invalid value: "dup": duplicate of key present in data',
      ],
    },
    {
      name: 'Secret keys and TLS secrets',
      kind: 'Secret',
      obj: { metadata: { name: 's' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'eA==' }, stringData: { 'a b': 'x' } },
      expect: [
        'data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters, \'-\', \'_\' or \'.\' (e.g. \'key.name\',  or \'KEY_NAME\',  or \'key-name\', regex used for validation is \'[-._a-zA-Z0-9]+\')',
        'data[tls.key]: Required value',
      ],
    },
    { name: 'Namespace names are DNS-1123 labels', kind: 'Namespace', obj: { metadata: { name: 'a.b' } }, expect: [`metadata.name: Invalid value: "a.b": ${dns1123Label}`] },
    { name: 'Node names are subdomains', kind: 'Node', obj: { metadata: { name: 'node-1.example' } }, expect: [] },
    { name: 'Lease duration', kind: 'Lease', obj: { metadata: { name: 'l' }, spec: { leaseDurationSeconds: 0 } }, expect: ['spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0'] },
    {
      name: 'a valid CRD',
      kind: 'CustomResourceDefinition',
      obj: { metadata: { name: 'widgets.example.io' }, spec: { group: 'example.io', scope: 'Namespaced', names: { plural: 'widgets', kind: 'Widget' }, versions: [{ name: 'v1', served: true, storage: true }] } },
      expect: [],
    },
    {
      name: 'a CRD named unlike plural.group, with no storage version',
      kind: 'CustomResourceDefinition',
      obj: { metadata: { name: 'things.example.io' }, spec: { group: 'example.io', scope: 'Global', names: { plural: 'widgets', kind: 'Widget' }, versions: [{ name: 'v1', served: true, storage: false }] } },
      expect: [
        'metadata.name: Invalid value: "things.example.io": must be spec.names.plural+"."+spec.group',
        'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"',
        'spec.versions: Invalid value: []interface {}{map[string]interface {}{"name":"v1", "served":true, "storage":false}}: must have exactly one version marked as storage version',
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(fields(validateBuiltin(c.kind, c.obj)), c.expect);
    });
  }
});

describe('invalidMessage', () => {
  const cause = (field: string, message: string): FieldCause => ({ reason: 'FieldValueInvalid', message, field });
  test('no causes, one cause (no brackets), several (brackets), duplicates dropped', () => {
    assert.equal(invalidMessage('Pod', 'p', []), 'Pod "p" is invalid');
    assert.equal(invalidMessage('Pod', 'p', [cause('spec.a', 'Invalid value: 1: bad')]), 'Pod "p" is invalid: spec.a: Invalid value: 1: bad');
    assert.equal(
      invalidMessage('Widget.example.io', 'w', [cause('a', 'x'), cause('b', 'y'), cause('a', 'x')]),
      'Widget.example.io "w" is invalid: [a: x, b: y]',
    );
    assert.equal(invalidMessage('Pod', 'p', [cause('a', 'x'), cause('a', 'x')]), 'Pod "p" is invalid: a: x');
  });
});
