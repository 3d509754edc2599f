// Decodes the Kubernetes protobuf encoding ("k8s\0" + runtime.Unknown wrapping the object) into
// the JSON object the rest of the server works with. kubectl's typed clients (`kubectl create
// namespace`, `kubectl run`, ...) send request bodies this way.
import { ProtobufError, readFields } from './protobuf-wire.js';
import type { WireField } from './protobuf-wire.js';
import { kubeMessages, keepEmptyMessages, messageForKind } from './kube-protobuf-schema.js';
import type { FieldDef, ScalarType } from './kube-protobuf-schema.js';
import { kubeTimestamp } from './kube-object.js';

export const protobufMediaType = 'application/vnd.kubernetes.protobuf';
const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class UnsupportedProtobufError extends Error {}

function text(value: bigint | Uint8Array): string {
  if (!(value instanceof Uint8Array)) throw new ProtobufError('expected a length-delimited field');
  return utf8.decode(value);
}

function scalar(type: ScalarType, f: WireField): unknown {
  switch (type) {
    case 'string': return text(f.value);
    case 'bytes': return Buffer.from(f.value as Uint8Array).toString('base64');
    case 'bool': return f.value !== 0n;
    case 'int': {
      const v = BigInt.asIntN(64, f.value as bigint);
      return Number(v);
    }
    case 'time': {
      const fields = readFields(f.value as Uint8Array);
      const seconds = fields.find((x) => x.number === 1)?.value as bigint | undefined;
      return kubeTimestamp(new Date(Number(BigInt.asIntN(64, seconds ?? 0n)) * 1000));
    }
    case 'quantity': {
      const fields = readFields(f.value as Uint8Array);
      const v = fields.find((x) => x.number === 1);
      return v ? text(v.value) : '0';
    }
    case 'intOrString': {
      const fields = readFields(f.value as Uint8Array);
      const kind = Number(fields.find((x) => x.number === 1)?.value ?? 0n);
      if (kind === 1) {
        const str = fields.find((x) => x.number === 3);
        return str ? text(str.value) : '';
      }
      return Number(BigInt.asIntN(32, (fields.find((x) => x.number === 2)?.value as bigint | undefined) ?? 0n));
    }
  }
}

function isZero(value: unknown): boolean {
  return value === '' || value === 0 || value === false || (typeof value === 'string' && value === '1970-01-01T00:00:00Z');
}

function decodeMessage(messageName: string, buf: Uint8Array, path: string): Record<string, unknown> {
  const def = kubeMessages[messageName];
  if (!def) throw new UnsupportedProtobufError(`protobuf message ${messageName} is not supported`);
  const out: Record<string, unknown> = {};
  for (const f of readFields(buf)) {
    const field: FieldDef | undefined = def[f.number];
    if (!field) {
      throw new UnsupportedProtobufError(`protobuf field ${f.number} of ${messageName} (at ${path || 'the object'}) is not supported by this server; send the object as JSON`);
    }
    const childPath = path ? `${path}.${field.name}` : field.name;
    let value: unknown;
    const type = field.type;
    if (typeof type === 'string') {
      value = scalar(type, f);
    } else if ('message' in type) {
      value = decodeMessage(type.message, f.value as Uint8Array, childPath);
    } else {
      const entry = readFields(f.value as Uint8Array);
      const key = entry.find((x) => x.number === 1);
      const val = entry.find((x) => x.number === 2);
      const mapObj = (out[field.name] ??= {}) as Record<string, unknown>;
      mapObj[key ? text(key.value) : ''] = val ? scalar(type.map, val) : type.map === 'bytes' || type.map === 'string' ? '' : 0;
      continue;
    }
    if (field.repeated) {
      ((out[field.name] ??= []) as unknown[]).push(value);
      continue;
    }
    const emptyMessage = typeof value === 'object' && value !== null && Object.keys(value).length === 0;
    if (emptyMessage && !keepEmptyMessages.has(field.name)) continue;
    if (!field.keepZero && isZero(value)) continue;
    out[field.name] = value;
  }
  return out;
}

export interface DecodedProtobuf {
  apiVersion: string;
  kind: string;
  object: Record<string, unknown>;
}

/** Decodes a protobuf request body; throws UnsupportedProtobufError / ProtobufError on failure. */
export function decodeKubeProtobuf(body: Buffer): DecodedProtobuf {
  if (body.length < 4 || !body.subarray(0, 4).equals(magic)) throw new ProtobufError('missing the k8s protobuf prefix');
  const unknown = readFields(body.subarray(4));
  const typeMeta = unknown.find((f) => f.number === 1);
  const raw = unknown.find((f) => f.number === 2);
  let apiVersion = '';
  let kind = '';
  if (typeMeta) {
    for (const f of readFields(typeMeta.value as Uint8Array)) {
      if (f.number === 1) apiVersion = text(f.value);
      if (f.number === 2) kind = text(f.value);
    }
  }
  const messageName = messageForKind[kind];
  if (!messageName) throw new UnsupportedProtobufError(`protobuf bodies of kind "${kind}" are not supported by this server; send JSON`);
  const object = decodeMessage(messageName, (raw?.value as Uint8Array | undefined) ?? new Uint8Array(), '');
  return { apiVersion, kind, object: { apiVersion, kind, ...object } };
}
