// The path an authorization rule is matched against. Requests can spell one resource many ways
// (`/api/../admin`, `//admin`, `/%61dmin`); rules are matched against one normal form, as Istio
// does by default: query and fragment dropped, percent-encoded unreserved characters decoded,
// repeated slashes merged, dot segments resolved (RFC 3986 §5.2.4). Spellings whose meaning
// depends on the server (an encoded `/` or `\`, a raw `\`, bad percent-encoding) have no normal
// form: a rule with path conditions treats them as matching when it denies and as not matching
// when it allows.

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** The normal form of a request target's path, or undefined when it has none. */
export function normalizeRequestPath(target: string): string | undefined {
  let path = target;
  if (!path.startsWith('/')) {
    if (path === '*') return '*';
    // absolute-form (a proxy request): the path part of the URL
    const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(path);
    if (match === null) return undefined;
    path = match[1] === '' || match[1]!.startsWith('?') ? `/${match[1]}` : match[1]!;
  }
  const end = path.search(/[?#]/);
  if (end >= 0) path = path.slice(0, end);
  // Most paths are already in normal form: nothing encoded, no empty or dot segment.
  if (!/%|\\|\/\/|\/\.\.?(\/|$)/.test(path)) return path;
  if (path.includes('\\')) return undefined;
  let decoded = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c !== '%') {
      decoded += c;
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
    const char = String.fromCharCode(parseInt(hex, 16));
    if (char === '/' || char === '\\') return undefined;
    decoded += UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return removeDotSegments(decoded.replace(/\/{2,}/g, '/'));
}

function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/').slice(1);
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    if (segment === '.') {
      if (last) out.push('');
    } else if (segment === '..') {
      out.pop();
      if (last) out.push('');
    } else {
      out.push(segment);
    }
  }
  return `/${out.join('/')}`;
}
