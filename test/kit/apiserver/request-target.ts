// Parses a resource URL (/api/v1/namespaces/ns/pods/name/status, /apis/g/v/plural, legacy
// /watch/ prefixes) into what it addresses. Unknown shapes are `undefined` (404).

export interface ResourceTarget {
  group: string;
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** The path used the deprecated /watch/ prefix. */
  legacyWatch: boolean;
}

export type PathTarget =
  | { type: 'resource'; target: ResourceTarget }
  | { type: 'group-version'; group: string; version: string }
  | { type: 'group'; group: string }
  | undefined;

export function parseResourcePath(pathname: string): PathTarget {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (parts[0] === 'api') {
    if (parts.length < 2) return undefined;
    group = '';
    rest = parts.slice(1);
  } else if (parts[0] === 'apis') {
    if (parts.length < 2) return undefined;
    if (parts.length === 2) return { type: 'group', group: parts[1]! };
    group = parts[1]!;
    rest = parts.slice(2);
  } else {
    return undefined;
  }
  const version = rest[0]!;
  let segs = rest.slice(1);
  if (segs.length === 0) return { type: 'group-version', group, version };
  let legacyWatch = false;
  if (segs[0] === 'watch') {
    legacyWatch = true;
    segs = segs.slice(1);
  }
  const target: ResourceTarget = { group, version, plural: '', legacyWatch };
  if (segs[0] === 'namespaces' && segs.length >= 3 && !(segs.length === 3 && (segs[2] === 'status' || segs[2] === 'finalize'))) {
    // /namespaces/{ns}/{plural}[/{name}[/{sub}]]
    target.namespace = segs[1];
    segs = segs.slice(2);
  }
  if (segs.length > 3) return undefined;
  target.plural = segs[0]!;
  if (segs[1] !== undefined) target.name = segs[1];
  if (segs[2] !== undefined) target.subresource = segs[2];
  return { type: 'resource', target };
}
