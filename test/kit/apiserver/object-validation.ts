// Validation of built-in objects the way a real kube-apiserver 1.26 validates them (ObjectMeta,
// Service, Pod, EndpointSlice, ConfigMap, Secret, ...), with Kubernetes' own wording so that a
// refused object gets the same 422 causes and message as from a real cluster.
import { childPath, fieldErrors, indexPath, type FieldCause } from './field-errors.js';
import {
  isConfigMapKey, isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isIPv4, isIPv6, isQualifiedName,
  isValidIP, isValidLabelValue, isValidPathSegmentName, isValidPortName, isValidPortNum,
} from './name-validation.js';

export type NameRule = 'dns1123subdomain' | 'dns1035label' | 'dns1123label' | 'path';

type Json = Record<string, any>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asObject(value: unknown): Json {
  return isObject(value) ? value : {};
}

const nameRules: Record<NameRule, (name: string) => string[]> = {
  dns1123subdomain: isDNS1123Subdomain,
  dns1035label: isDNS1035Label,
  dns1123label: isDNS1123Label,
  path: isValidPathSegmentName,
};

/** A generateName is a prefix: a trailing '-' is fine there (Kubernetes masks it before checking). */
function checkName(rule: NameRule, name: string, prefix: boolean): string[] {
  const masked = prefix && rule !== 'path' && name.endsWith('-') ? `${name.slice(0, -1)}a` : name;
  return nameRules[rule](masked);
}

const totalAnnotationSizeLimit = 256 * 1024;

export function validateLabels(labels: unknown, path: string): FieldCause[] {
  const causes: FieldCause[] = [];
  if (labels === undefined || labels === null) return causes;
  if (!isObject(labels)) return [fieldErrors.invalid(path, labels, 'must be a map of string keys to string values')];
  for (const [key, value] of Object.entries(labels)) {
    for (const msg of isQualifiedName(key)) causes.push(fieldErrors.invalid(path, key, msg));
    if (typeof value !== 'string') {
      causes.push(fieldErrors.invalid(path, value, 'label values must be strings'));
      continue;
    }
    for (const msg of isValidLabelValue(value)) causes.push(fieldErrors.invalid(path, value, msg));
  }
  return causes;
}

function validateAnnotations(annotations: unknown, path: string): FieldCause[] {
  const causes: FieldCause[] = [];
  if (annotations === undefined || annotations === null) return causes;
  if (!isObject(annotations)) return [fieldErrors.invalid(path, annotations, 'must be a map of string keys to string values')];
  let total = 0;
  for (const [key, value] of Object.entries(annotations)) {
    for (const msg of isQualifiedName(key.toLowerCase())) causes.push(fieldErrors.invalid(path, key, msg));
    if (typeof value !== 'string') causes.push(fieldErrors.invalid(path, value, 'annotation values must be strings'));
    total += key.length + String(value).length;
  }
  if (total > totalAnnotationSizeLimit) causes.push(fieldErrors.tooLong(path, totalAnnotationSizeLimit));
  return causes;
}

/** ObjectMeta checks of ValidateObjectMeta: name (per `nameRule`), namespace, labels, annotations, finalizers. */
export function validateObjectMeta(obj: any, nameRule: NameRule): FieldCause[] {
  const causes: FieldCause[] = [];
  const meta = asObject(isObject(obj) ? obj['metadata'] : undefined);
  const generateName = meta['generateName'];
  if (typeof generateName === 'string' && generateName !== '') {
    for (const msg of checkName(nameRule, generateName, true)) causes.push(fieldErrors.invalid('metadata.generateName', generateName, msg));
  }
  const name = meta['name'];
  if (typeof name !== 'string' || name === '') {
    causes.push(fieldErrors.required('metadata.name', 'name or generateName is required'));
  } else {
    for (const msg of checkName(nameRule, name, false)) causes.push(fieldErrors.invalid('metadata.name', name, msg));
  }
  const namespace = meta['namespace'];
  if (typeof namespace === 'string' && namespace !== '') {
    for (const msg of isDNS1123Label(namespace)) causes.push(fieldErrors.invalid('metadata.namespace', namespace, msg));
  }
  const generation = meta['generation'];
  if (typeof generation === 'number' && generation < 0) {
    causes.push(fieldErrors.invalid('metadata.generation', generation, 'must be greater than or equal to 0'));
  }
  causes.push(...validateLabels(meta['labels'], 'metadata.labels'));
  causes.push(...validateAnnotations(meta['annotations'], 'metadata.annotations'));
  asArray(meta['ownerReferences']).forEach((ref, i) => {
    const path = indexPath('metadata.ownerReferences', i);
    const r = asObject(ref);
    if (typeof r['apiVersion'] !== 'string' || r['apiVersion'] === '') causes.push(fieldErrors.invalid(childPath(path, 'apiVersion'), r['apiVersion'] ?? '', 'version must not be empty'));
    if (typeof r['kind'] !== 'string' || r['kind'] === '') causes.push(fieldErrors.invalid(childPath(path, 'kind'), r['kind'] ?? '', 'kind must not be empty'));
    if (typeof r['name'] !== 'string' || r['name'] === '') causes.push(fieldErrors.invalid(childPath(path, 'name'), r['name'] ?? '', 'name must not be empty'));
    if (typeof r['uid'] !== 'string' || r['uid'] === '') causes.push(fieldErrors.invalid(childPath(path, 'uid'), r['uid'] ?? '', 'uid must not be empty'));
  });
  for (const finalizer of asArray(meta['finalizers'])) {
    if (typeof finalizer !== 'string') {
      causes.push(fieldErrors.invalid('metadata.finalizers', finalizer, 'finalizers must be strings'));
      continue;
    }
    for (const msg of isQualifiedName(finalizer)) causes.push(fieldErrors.invalid('metadata.finalizers', finalizer, msg));
  }
  return causes;
}

const supportedPortProtocols = ['SCTP', 'TCP', 'UDP'];

function validatePortNumOrName(value: unknown, path: string): FieldCause[] {
  if (typeof value === 'number') return isValidPortNum(value).map((msg) => fieldErrors.invalid(path, value, msg));
  if (typeof value === 'string') {
    // A numeric string is still a name for IntOrString in JSON; kube rejects it as a port name.
    return isValidPortName(value).map((msg) => fieldErrors.invalid(path, value, msg));
  }
  return [fieldErrors.invalid(path, value, 'must be an integer or a port name')];
}

function validateProtocol(value: unknown, path: string): FieldCause[] {
  // An absent protocol is defaulted to TCP before validation on a real server.
  if (value === undefined) return [];
  return supportedPortProtocols.includes(value as string) ? [] : [fieldErrors.notSupported(path, value, supportedPortProtocols)];
}

function goServicePort(port: Json): string {
  const q = (v: unknown): string => JSON.stringify(typeof v === 'string' ? v : '');
  const n = (v: unknown): number => (typeof v === 'number' ? v : 0);
  return `core.ServicePort{Name:"", Protocol:${q(port['protocol'] ?? 'TCP')}, AppProtocol:(*string)(nil), Port:${n(port['port'])}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`;
}

const serviceTypes = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

function validateService(obj: Json): FieldCause[] {
  const causes = validateObjectMeta(obj, 'dns1035label');
  const spec = asObject(obj['spec']);
  const type = spec['type'] ?? 'ClusterIP';
  const ports = asArray(spec['ports']);
  const headless = spec['clusterIP'] === 'None';
  if (ports.length === 0 && !headless && type !== 'ExternalName') causes.push(fieldErrors.required('spec.ports'));
  if (type === 'ExternalName') {
    const externalName = spec['externalName'];
    if (typeof externalName !== 'string' || externalName === '') causes.push(fieldErrors.required('spec.externalName'));
    else for (const msg of isDNS1123Subdomain(externalName)) causes.push(fieldErrors.invalid('spec.externalName', externalName, msg));
  }
  const names = new Set<string>();
  ports.forEach((raw, i) => {
    const port = asObject(raw);
    const path = indexPath('spec.ports', i);
    const name = port['name'];
    if (ports.length > 1 && (typeof name !== 'string' || name === '')) {
      causes.push(fieldErrors.required(childPath(path, 'name')));
    } else if (typeof name === 'string' && name !== '') {
      for (const msg of isDNS1123Label(name)) causes.push(fieldErrors.invalid(childPath(path, 'name'), name, msg));
      if (names.has(name)) causes.push(fieldErrors.duplicate(childPath(path, 'name'), name));
      else names.add(name);
    }
    const portNumber = port['port'] ?? 0;
    for (const msg of typeof portNumber === 'number' ? isValidPortNum(portNumber) : ['must be an integer']) {
      causes.push(fieldErrors.invalid(childPath(path, 'port'), portNumber, msg));
    }
    causes.push(...validateProtocol(port['protocol'], childPath(path, 'protocol')));
    // targetPort defaults to port before validation, as on a real server.
    causes.push(...validatePortNumOrName(port['targetPort'] ?? portNumber, childPath(path, 'targetPort')));
  });
  causes.push(...validateLabels(spec['selector'], 'spec.selector'));
  const affinity = spec['sessionAffinity'];
  if (affinity !== undefined && affinity !== 'None' && affinity !== 'ClientIP') {
    causes.push(fieldErrors.notSupported('spec.sessionAffinity', affinity, ['ClientIP', 'None']));
  }
  const clusterIPs: unknown[] = Array.isArray(spec['clusterIPs'])
    ? spec['clusterIPs']
    : typeof spec['clusterIP'] === 'string' && spec['clusterIP'] !== '' ? [spec['clusterIP']] : [];
  clusterIPs.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (clusterIPs.length > 1) causes.push(fieldErrors.invalid('spec.clusterIPs', clusterIPs, "'None' must be the first and only value"));
      return;
    }
    if (typeof ip !== 'string' || !isValidIP(ip)) {
      causes.push(fieldErrors.invalid(indexPath('spec.clusterIPs', i), ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    }
  });
  if (!serviceTypes.includes(type)) causes.push(fieldErrors.notSupported('spec.type', type, serviceTypes));
  if (type === 'ClusterIP') {
    ports.forEach((raw, i) => {
      const nodePort = asObject(raw)['nodePort'];
      if (nodePort !== undefined && nodePort !== 0) {
        causes.push(fieldErrors.forbidden(childPath(indexPath('spec.ports', i), 'nodePort'), "may not be used when `type` is 'ClusterIP'"));
      }
    });
  }
  const seen = new Set<string>();
  ports.forEach((raw, i) => {
    const port = asObject(raw);
    const key = `${String(port['protocol'] ?? 'TCP')}/${String(port['port'])}`;
    if (seen.has(key)) causes.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${goServicePort(port)}`, field: indexPath('spec.ports', i) });
    seen.add(key);
  });
  return causes;
}

const envVarNameFmt = '[-._a-zA-Z][-._a-zA-Z0-9]*';
const envVarNameMsg = `a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '${envVarNameFmt}')`;

function validateContainers(containers: unknown, path: string, required: boolean): FieldCause[] {
  const list = asArray(containers);
  if (list.length === 0) return required ? [fieldErrors.required(path)] : [];
  const causes: FieldCause[] = [];
  const names = new Set<string>();
  list.forEach((raw, i) => {
    const ctr = asObject(raw);
    const ctrPath = indexPath(path, i);
    const name = ctr['name'];
    if (typeof name !== 'string' || name === '') {
      causes.push(fieldErrors.required(childPath(ctrPath, 'name')));
    } else {
      for (const msg of isDNS1123Label(name)) causes.push(fieldErrors.invalid(childPath(ctrPath, 'name'), name, msg));
      if (names.has(name)) causes.push(fieldErrors.duplicate(childPath(ctrPath, 'name'), name));
      else names.add(name);
    }
    if (typeof ctr['image'] !== 'string' || ctr['image'] === '') causes.push(fieldErrors.required(childPath(ctrPath, 'image')));
    const portNames = new Set<string>();
    asArray(ctr['ports']).forEach((rawPort, j) => {
      const port = asObject(rawPort);
      const portPath = indexPath(childPath(ctrPath, 'ports'), j);
      const portName = port['name'];
      if (typeof portName === 'string' && portName !== '') {
        const msgs = isValidPortName(portName);
        for (const msg of msgs) causes.push(fieldErrors.invalid(childPath(portPath, 'name'), portName, msg));
        if (msgs.length === 0 && portNames.has(portName)) causes.push(fieldErrors.duplicate(childPath(portPath, 'name'), portName));
        portNames.add(portName);
      }
      const containerPort = port['containerPort'];
      if (containerPort === undefined || containerPort === 0) causes.push(fieldErrors.required(childPath(portPath, 'containerPort')));
      else for (const msg of isValidPortNum(containerPort)) causes.push(fieldErrors.invalid(childPath(portPath, 'containerPort'), containerPort, msg));
      const hostPort = port['hostPort'];
      if (hostPort !== undefined && hostPort !== 0) {
        for (const msg of isValidPortNum(hostPort)) causes.push(fieldErrors.invalid(childPath(portPath, 'hostPort'), hostPort, msg));
      }
      causes.push(...validateProtocol(port['protocol'], childPath(portPath, 'protocol')));
    });
    asArray(ctr['env']).forEach((rawEnv, j) => {
      const envPath = indexPath(childPath(ctrPath, 'env'), j);
      const envName = asObject(rawEnv)['name'];
      if (typeof envName !== 'string' || envName === '') causes.push(fieldErrors.required(childPath(envPath, 'name')));
      else if (!new RegExp(`^${envVarNameFmt}$`).test(envName)) causes.push(fieldErrors.invalid(childPath(envPath, 'name'), envName, envVarNameMsg));
    });
  });
  return causes;
}

function validatePod(obj: Json): FieldCause[] {
  const causes = validateObjectMeta(obj, 'dns1123subdomain');
  causes.push(...validatePodSpec(obj['spec'], 'spec'));
  return causes;
}

/** The checks of ValidatePodSpec this server makes, under `path` ("spec", "spec.template.spec"). */
export function validatePodSpec(rawSpec: unknown, path: string): FieldCause[] {
  const causes: FieldCause[] = [];
  const spec = asObject(rawSpec);
  const volumeNames = new Set<string>();
  asArray(spec['volumes']).forEach((raw, i) => {
    const namePath = childPath(indexPath(childPath(path, 'volumes'), i), 'name');
    const name = asObject(raw)['name'];
    if (typeof name !== 'string' || name === '') {
      causes.push(fieldErrors.required(namePath));
      return;
    }
    for (const msg of isDNS1123Label(name)) causes.push(fieldErrors.invalid(namePath, name, msg));
    if (volumeNames.has(name)) causes.push(fieldErrors.duplicate(namePath, name));
    volumeNames.add(name);
  });
  causes.push(...validateContainers(spec['containers'], childPath(path, 'containers'), true));
  causes.push(...validateContainers(spec['initContainers'], childPath(path, 'initContainers'), false));
  const restartPolicy = spec['restartPolicy'];
  if (restartPolicy !== undefined && !['Always', 'OnFailure', 'Never'].includes(restartPolicy)) {
    causes.push(fieldErrors.notSupported(childPath(path, 'restartPolicy'), restartPolicy, ['Always', 'OnFailure', 'Never']));
  }
  causes.push(...validateLabels(spec['nodeSelector'], childPath(path, 'nodeSelector')));
  const nodeName = spec['nodeName'];
  if (typeof nodeName === 'string' && nodeName !== '') {
    for (const msg of isDNS1123Subdomain(nodeName)) causes.push(fieldErrors.invalid(childPath(path, 'nodeName'), nodeName, msg));
  }
  return causes;
}

const addressTypes = ['FQDN', 'IPv4', 'IPv6'];

function validateEndpointSlice(obj: Json): FieldCause[] {
  const causes = validateObjectMeta(obj, 'dns1123subdomain');
  const addressType = obj['addressType'];
  if (addressType === undefined || addressType === '') causes.push(fieldErrors.required('addressType'));
  else if (!addressTypes.includes(addressType)) causes.push(fieldErrors.notSupported('addressType', addressType, addressTypes));
  asArray(obj['endpoints']).forEach((raw, i) => {
    const endpoint = asObject(raw);
    const addressesPath = childPath(indexPath('endpoints', i), 'addresses');
    const addresses = asArray(endpoint['addresses']);
    if (addresses.length === 0) causes.push(fieldErrors.required(addressesPath, 'must contain at least 1 address'));
    else if (addresses.length > 100) causes.push(fieldErrors.tooMany(addressesPath, addresses.length, 100));
    addresses.forEach((address, j) => {
      const path = indexPath(addressesPath, j);
      if (addressType === 'IPv4' && (typeof address !== 'string' || !isIPv4(address))) causes.push(fieldErrors.invalid(path, address, 'must be a valid IPv4 address'));
      if (addressType === 'IPv6' && (typeof address !== 'string' || !isIPv6(address))) causes.push(fieldErrors.invalid(path, address, 'must be a valid IPv6 address'));
    });
    const nodeName = endpoint['nodeName'];
    if (typeof nodeName === 'string') {
      for (const msg of isDNS1123Subdomain(nodeName)) causes.push(fieldErrors.invalid(childPath(indexPath('endpoints', i), 'nodeName'), nodeName, msg));
    }
  });
  const portNames = new Set<string>();
  asArray(obj['ports']).forEach((raw, i) => {
    const port = asObject(raw);
    const path = indexPath('ports', i);
    const name = typeof port['name'] === 'string' ? port['name'] : '';
    if (name !== '') for (const msg of isDNS1123Label(name)) causes.push(fieldErrors.invalid(childPath(path, 'name'), name, msg));
    if (portNames.has(name)) causes.push(fieldErrors.duplicate(childPath(path, 'name'), name));
    portNames.add(name);
    causes.push(...validateProtocol(port['protocol'], childPath(path, 'protocol')));
  });
  return causes;
}

const maxDataSize = 1024 * 1024;

function validateDataKeys(bag: unknown, path: string, other: unknown, otherName: string): { causes: FieldCause[]; size: number } {
  const causes: FieldCause[] = [];
  let size = 0;
  for (const [key, value] of Object.entries(asObject(bag))) {
    const keyPath = indexPath(path, key);
    for (const msg of isConfigMapKey(key)) causes.push(fieldErrors.invalid(keyPath, key, msg));
    if (isObject(other) && Object.prototype.hasOwnProperty.call(other, key)) causes.push(fieldErrors.invalid(keyPath, key, `duplicate of key present in ${otherName}`));
    size += typeof value === 'string' ? value.length : 0;
  }
  return { causes, size };
}

function validateConfigMap(obj: Json): FieldCause[] {
  const causes = validateObjectMeta(obj, 'dns1123subdomain');
  const data = validateDataKeys(obj['data'], 'data', obj['binaryData'], 'binaryData');
  const binary = validateDataKeys(obj['binaryData'], 'binaryData', obj['data'], 'data');
  causes.push(...data.causes, ...binary.causes);
  if (data.size + binary.size > maxDataSize) causes.push(fieldErrors.tooLong('', maxDataSize));
  return causes;
}

function validateSecret(obj: Json): FieldCause[] {
  const causes = validateObjectMeta(obj, 'dns1123subdomain');
  // stringData is merged into data before validation on a real server, so both report as data[key].
  const data = { ...asObject(obj['data']), ...asObject(obj['stringData']) };
  const checked = validateDataKeys(data, 'data', undefined, '');
  causes.push(...checked.causes);
  if (checked.size > maxDataSize) causes.push(fieldErrors.tooLong('data', maxDataSize));
  if (obj['type'] === 'kubernetes.io/tls') {
    for (const key of ['tls.crt', 'tls.key']) if (!(key in data)) causes.push(fieldErrors.required(indexPath('data', key)));
  }
  return causes;
}

function validateLease(obj: Json): FieldCause[] {
  const causes = validateObjectMeta(obj, 'dns1123subdomain');
  const spec = asObject(obj['spec']);
  const duration = spec['leaseDurationSeconds'];
  if (typeof duration === 'number' && duration <= 0) causes.push(fieldErrors.invalid('spec.leaseDurationSeconds', duration, 'must be greater than 0'));
  const transitions = spec['leaseTransitions'];
  if (typeof transitions === 'number' && transitions < 0) causes.push(fieldErrors.invalid('spec.leaseTransitions', transitions, 'must be greater than or equal to 0'));
  return causes;
}

function validateCustomResourceDefinition(obj: Json): FieldCause[] {
  const causes = validateObjectMeta(obj, 'dns1123subdomain');
  const spec = asObject(obj['spec']);
  const names = asObject(spec['names']);
  const group = spec['group'];
  const plural = names['plural'];
  if (typeof group !== 'string' || group === '') causes.push(fieldErrors.required('spec.group'));
  else if (group.split('.').length < 2) causes.push(fieldErrors.invalid('spec.group', group, 'should be a domain with at least one dot'));
  if (typeof plural !== 'string' || plural === '') causes.push(fieldErrors.required('spec.names.plural'));
  if (typeof names['kind'] !== 'string' || names['kind'] === '') causes.push(fieldErrors.required('spec.names.kind'));
  const name = asObject(obj['metadata'])['name'];
  if (typeof group === 'string' && typeof plural === 'string' && typeof name === 'string' && name !== '' && name !== `${plural}.${group}`) {
    causes.push(fieldErrors.invalid('metadata.name', name, 'must be spec.names.plural+"."+spec.group'));
  }
  const scope = spec['scope'];
  if (scope === undefined || scope === '') causes.push(fieldErrors.required('spec.scope'));
  else if (scope !== 'Cluster' && scope !== 'Namespaced') causes.push(fieldErrors.notSupported('spec.scope', scope, ['Cluster', 'Namespaced']));
  const versions = asArray(spec['versions']);
  if (versions.length === 0) {
    causes.push(fieldErrors.invalid('spec.versions', versions, 'must have exactly one version marked as storage version'));
  } else {
    const storage = versions.filter((v) => asObject(v)['storage'] === true).length;
    if (storage !== 1) causes.push(fieldErrors.invalid('spec.versions', versions, 'must have exactly one version marked as storage version'));
    versions.forEach((v, i) => {
      const vname = asObject(v)['name'];
      if (typeof vname !== 'string' || vname === '') causes.push(fieldErrors.required(childPath(indexPath('spec.versions', i), 'name')));
      else for (const msg of isDNS1035Label(vname)) causes.push(fieldErrors.invalid(childPath(indexPath('spec.versions', i), 'name'), vname, msg));
    });
  }
  return causes;
}

const validators: Record<string, (obj: Json) => FieldCause[]> = {
  Namespace: (obj) => validateObjectMeta(obj, 'dns1123label'),
  Service: validateService,
  Pod: validatePod,
  EndpointSlice: validateEndpointSlice,
  ConfigMap: validateConfigMap,
  Secret: validateSecret,
  Lease: validateLease,
  CustomResourceDefinition: validateCustomResourceDefinition,
};

const rbacKinds = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);

/** The name rule a real server applies to `kind`'s metadata.name. */
export function nameRuleFor(kind: string): NameRule {
  if (kind === 'Namespace') return 'dns1123label';
  if (kind === 'Service') return 'dns1035label';
  if (rbacKinds.has(kind)) return 'path';
  return 'dns1123subdomain';
}

/** Validates a built-in object (defaults not yet applied are treated as applied). */
export function validateBuiltin(kind: string, obj: any): FieldCause[] {
  const body = asObject(obj);
  const validator = validators[kind];
  return validator !== undefined ? validator(body) : validateObjectMeta(body, nameRuleFor(kind));
}

/**
 * The message of a 422 Invalid Status, as apimachinery's NewInvalid + ErrorList.ToAggregate print
 * it: `<Kind> "<name>" is invalid: <one>` or `... is invalid: [<a>, <b>]` (duplicates dropped).
 * `kind` is the qualified kind: 'Service', or 'Widget.example.io' for a group's kind.
 */
export function invalidMessage(kind: string, name: string, causes: FieldCause[]): string {
  const head = `${kind} ${JSON.stringify(name)} is invalid`;
  const messages = [...new Set(causes.map((c) => `${c.field}: ${c.message}`))];
  if (messages.length === 0) return head;
  return messages.length === 1 ? `${head}: ${messages[0]}` : `${head}: [${messages.join(', ')}]`;
}
