// Every TypeScript codec of a bpf struct must match the compiled objects' BTF layout: same
// size, same field offsets and sizes. A field moved in bpf/include/weft_abi.h fails here
// instead of corrupting a map at run time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../support/repo-root.js';
import { allCodecs, cidrKeyCodec, configCodec, origDstCodec } from '../../agent/src/bpf/abi.js';
import { REDIRECT_PROGRAMS } from '../../agent/src/bpf/redirect-programs.js';

interface BtfType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
  vars?: { type_id: number; offset: number; size: number }[];
}

function readBtf(object: string): Map<number, BtfType> {
  const out = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', object], { encoding: 'utf8' });
  const types = (JSON.parse(out) as { types: BtfType[] }).types;
  return new Map(types.map((t) => [t.id, t]));
}

/** Size in bytes of a type, looking through typedefs and qualifiers. */
function sizeOf(types: Map<number, BtfType>, id: number): number {
  const t = types.get(id);
  if (!t) throw new Error(`BTF type ${id} missing`);
  if (t.size !== undefined && t.kind !== 'DATASEC') return t.size;
  if (t.type_id !== undefined) return sizeOf(types, t.type_id);
  throw new Error(`BTF type ${id} (${t.kind}) has no size`);
}

const objects = REDIRECT_PROGRAMS.map(({ object }) => join(repoRoot, 'bpf', 'build', object));

for (const codec of allCodecs) {
  const structName = codec.mirrors.replace(/^struct /, '');
  test(`${codec.mirrors} matches its TypeScript codec in every object that uses it`, () => {
    let seen = 0;
    for (const object of objects) {
      const types = readBtf(object);
      const struct = [...types.values()].find((t) => t.kind === 'STRUCT' && t.name === structName);
      if (!struct) continue;
      seen++;
      assert.equal(struct.size, codec.size, `${structName} size in ${object}`);
      const layout = Object.fromEntries(
        struct.members!.map((m) => [m.name, { offset: m.bits_offset / 8, size: sizeOf(types, m.type_id) }]),
      );
      assert.deepEqual(layout, codec.fields, `${structName} fields in ${object}`);
    }
    assert.ok(seen > 0, `${structName} appears in no compiled object`);
  });
}

test('the config struct is the only .rodata variable, at offset 0', () => {
  for (const object of objects) {
    const types = readBtf(object);
    const rodata = [...types.values()].find((t) => t.kind === 'DATASEC' && t.name === '.rodata');
    assert.ok(rodata, `${object} has .rodata`);
    assert.equal(rodata.vars!.length, 1, `${object}: one .rodata variable`);
    const v = rodata.vars![0]!;
    assert.equal(types.get(v.type_id)!.name, 'weft_cfg');
    assert.equal(v.offset, 0);
    assert.equal(v.size, configCodec.size);
  }
});

test('codecs round-trip and refuse values that do not fit', () => {
  const dst = { ip4: '10.96.0.10', port: 8080 };
  assert.deepEqual(origDstCodec.decode(origDstCodec.encode(dst)), dst);
  assert.deepEqual([...origDstCodec.encode(dst)], [10, 96, 0, 10, 0x1f, 0x90, 0, 0]);
  const cidr = { prefixLength: 16, ip4: '10.244.0.0' };
  assert.deepEqual(cidrKeyCodec.decode(cidrKeyCodec.encode(cidr)), cidr);
  assert.throws(() => cidrKeyCodec.encode({ prefixLength: 33, ip4: '10.0.0.0' }), /prefix length/);
  const cfg = { agentCgroupId: 1234567890123n, proxyIp4: '10.1.2.3', proxyPort: 15001 };
  assert.deepEqual(configCodec.decode(configCodec.encode(cfg)), cfg);
  // the port is written big-endian (network order) at offset 12
  assert.deepEqual([...configCodec.encode(cfg).slice(12, 14)], [0x3a, 0x99]);
  assert.throws(() => configCodec.encode({ ...cfg, proxyPort: 70000 }), /not a port/);
  assert.throws(() => configCodec.encode({ ...cfg, proxyIp4: '10.1.2' }), /not an IPv4/);
});
