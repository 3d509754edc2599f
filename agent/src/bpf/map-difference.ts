// Writing a map's wanted content as a difference: keys and values as hex strings, the map read
// once (it may be pinned from an earlier agent), then only changed entries written and gone ones
// deleted. Shared by the authorization map syncs.
import * as libbpf from '../../../native/src/libbpf.js';

/** Makes the map hold exactly `wanted`; returns what it holds now (pass it back next time). */
export function writeDifference(fd: number, keySize: number, valueSize: number, written: Map<string, string> | undefined, wanted: ReadonlyMap<string, string>): Map<string, string> {
  const have = written ?? readMap(fd, keySize, valueSize);
  for (const [key, value] of wanted) {
    if (have.get(key) !== value) libbpf.mapUpdate(fd, Buffer.from(key, 'hex'), Buffer.from(value, 'hex'));
  }
  for (const key of have.keys()) if (!wanted.has(key)) libbpf.mapDelete(fd, Buffer.from(key, 'hex'));
  return new Map(wanted);
}

function readMap(fd: number, keySize: number, valueSize: number): Map<string, string> {
  const entries = new Map<string, string>();
  let key: Uint8Array | null = null;
  for (;;) {
    const next = new Uint8Array(keySize);
    if (!libbpf.mapNextKey(fd, key, next)) return entries;
    const value = new Uint8Array(valueSize);
    if (libbpf.mapLookup(fd, next, value)) entries.set(hex(next), hex(value));
    key = next;
  }
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

export function u64(value: bigint): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, value, true);
  return bytes;
}
