// The generator behind the malformed-input fuzz test: from a seeded PRNG, one case at a time,
// mutations of valid HTTP/1 requests and raw garbage, sent in one or several pieces. Pure
// functions of the seed, so a failing case is reproduced from its seed and index.

export interface FuzzCase {
  index: number;
  kind: string;
  pieces: Buffer[];
  /** Whether the sender half-closes after the last piece. */
  halfClose: boolean;
}

/** A small fast PRNG (mulberry32): same seed, same cases. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID = [
  'GET /a HTTP/1.1\r\nHost: fuzz\r\n\r\n',
  'POST /echo HTTP/1.1\r\nHost: fuzz\r\nContent-Length: 5\r\n\r\nhello',
  'POST /echo HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'GET /ws HTTP/1.1\r\nHost: fuzz\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
];

const INSERTS = ['\r', '\n', '\r\n', '\0', ' ', ':', '\t', '\x7f', '\xff', 'x-weft-peer-identity: forged\r\n', '\r\n\r\n'];

type Generator = (random: () => number) => { kind: string; bytes: Buffer };

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const GENERATORS: readonly Generator[] = [
  (random) => {
    const bytes = Buffer.from(pick(random, VALID), 'latin1');
    const flips = 1 + Math.floor(random() * 4);
    for (let i = 0; i < flips; i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    return { kind: 'flipped bytes', bytes };
  },
  (random) => {
    let text = pick(random, VALID);
    const at = Math.floor(random() * text.length);
    text = text.slice(0, at) + pick(random, INSERTS) + text.slice(at);
    return { kind: 'inserted bytes', bytes: Buffer.from(text, 'latin1') };
  },
  (random) => {
    const lengths = ['-1', 'abc', '1, 2', '99999999999999999999', '5\r\nContent-Length: 6', ''];
    return { kind: 'bad content-length', bytes: Buffer.from(`POST /echo HTTP/1.1\r\nHost: fuzz\r\nContent-Length: ${pick(random, lengths)}\r\n\r\nhello`, 'latin1') };
  },
  (random) => {
    const bodies = ['zz\r\nhello\r\n0\r\n\r\n', '5\r\nhel', '5\r\nhelloXX0\r\n\r\n', 'fffffffffffffffffff\r\n', '-5\r\nhello\r\n0\r\n\r\n', '5;\x00\r\nhello\r\n0\r\n\r\n'];
    const codings = ['chunked', 'chunked, identity', 'xchunked', 'gzip', ' chunked'];
    return { kind: 'broken chunked', bytes: Buffer.from(`POST /echo HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: ${pick(random, codings)}\r\n\r\n${pick(random, bodies)}`, 'latin1') };
  },
  (random) => {
    const size = pick(random, [8 * 1024, 17 * 1024, 80 * 1024]);
    const where = random() < 0.5 ? `/${'a'.repeat(size)}` : '/big-header';
    const header = where === '/big-header' ? `X-Big: ${'b'.repeat(size)}\r\n` : '';
    return { kind: 'oversized head', bytes: Buffer.from(`GET ${where} HTTP/1.1\r\nHost: fuzz\r\n${header}\r\n`, 'latin1') };
  },
  (random) => {
    const bytes = Buffer.alloc(1 + Math.floor(random() * 512));
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    return { kind: 'raw garbage', bytes };
  },
  (random) => {
    const garbage = Buffer.alloc(Math.floor(random() * 256));
    for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256);
    return { kind: 'garbage after the HTTP/2 preface', bytes: Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), garbage]) };
  },
];

export function malformedCase(random: () => number, index: number): FuzzCase {
  const { kind, bytes } = pick(random, GENERATORS)(random);
  // One piece, or split at random points (as TCP may deliver it).
  const pieces: Buffer[] = [];
  const splits = random() < 0.5 ? 0 : 1 + Math.floor(random() * 3);
  let from = 0;
  for (let i = 0; i < splits && from < bytes.length - 1; i++) {
    const at = from + 1 + Math.floor(random() * (bytes.length - from - 1));
    pieces.push(bytes.subarray(from, at));
    from = at;
  }
  pieces.push(bytes.subarray(from));
  return { index, kind, pieces, halfClose: random() < 0.7 };
}
