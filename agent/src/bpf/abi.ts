// Codecs for the structs of bpf/include/weft_abi.h. Each codec names the C struct it mirrors and
// declares its layout; test/bpf/abi-layout.test.ts compares every layout with the compiled
// object's BTF, so a field moved in C fails a test instead of corrupting a map.
// Addresses travel as dotted strings and ports as numbers; the `_be` fields are written in
// network byte order here, once.

export interface FieldLayout {
  offset: number;
  size: number;
}

export interface StructCodec<T> {
  /** The C struct this codec mirrors. */
  readonly mirrors: string;
  readonly size: number;
  readonly fields: Readonly<Record<string, FieldLayout>>;
  encode(value: T, into?: Uint8Array): Uint8Array;
  decode(bytes: Uint8Array): T;
}

export interface Ip4Port {
  ip4: string;
  port: number;
}

export interface WeftConfig {
  agentCgroupId: bigint;
  proxyIp4: string;
  proxyPort: number;
}

export interface CidrKey {
  prefixLength: number;
  ip4: string;
}

export function ip4ToBytes(ip4: string, into: Uint8Array, offset: number): void {
  const parts = ip4.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${ip4}`);
  for (let i = 0; i < 4; i++) {
    const octet = Number(parts[i]);
    if (!Number.isInteger(octet) || octet < 0 || octet > 255 || parts[i] === '') {
      throw new RangeError(`not an IPv4 address: ${ip4}`);
    }
    into[offset + i] = octet;
  }
}

export function bytesToIp4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`not a port: ${port}`);
}

/** The shape shared by weft_orig_dst, weft_peer_key and weft_svc_key: ip4_be, port_be, _pad. */
function ip4PortCodec(mirrors: string): StructCodec<Ip4Port> {
  return {
    mirrors,
    size: 8,
    fields: { ip4_be: { offset: 0, size: 4 }, port_be: { offset: 4, size: 2 }, _pad: { offset: 6, size: 2 } },
    encode(value, into = new Uint8Array(8)) {
      checkPort(value.port);
      ip4ToBytes(value.ip4, into, 0);
      into[4] = value.port >> 8;
      into[5] = value.port & 0xff;
      into[6] = 0;
      into[7] = 0;
      return into;
    },
    decode(bytes) {
      return { ip4: bytesToIp4(bytes, 0), port: (bytes[4]! << 8) | bytes[5]! };
    },
  };
}

export const origDstCodec = ip4PortCodec('struct weft_orig_dst');
export const peerKeyCodec = ip4PortCodec('struct weft_peer_key');
export const svcKeyCodec = ip4PortCodec('struct weft_svc_key');

export const cidrKeyCodec: StructCodec<CidrKey> = {
  mirrors: 'struct weft_cidr_key',
  size: 8,
  fields: { prefixlen: { offset: 0, size: 4 }, ip4_be: { offset: 4, size: 4 } },
  encode(value, into = new Uint8Array(8)) {
    if (!Number.isInteger(value.prefixLength) || value.prefixLength < 0 || value.prefixLength > 32) {
      throw new RangeError(`not a prefix length: ${value.prefixLength}`);
    }
    // prefixlen is a host-order u32 (the kernel's bpf_lpm_trie_key); this runs on little endian.
    new DataView(into.buffer, into.byteOffset, 8).setUint32(0, value.prefixLength, true);
    ip4ToBytes(value.ip4, into, 4);
    return into;
  },
  decode(bytes) {
    const prefixLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(0, true);
    return { prefixLength, ip4: bytesToIp4(bytes, 4) };
  },
};

export const configCodec: StructCodec<WeftConfig> = {
  mirrors: 'struct weft_config',
  size: 16,
  fields: {
    agent_cgroup_id: { offset: 0, size: 8 },
    proxy_ip4_be: { offset: 8, size: 4 },
    proxy_port_be: { offset: 12, size: 2 },
    _pad: { offset: 14, size: 2 },
  },
  encode(value, into = new Uint8Array(16)) {
    checkPort(value.proxyPort);
    const view = new DataView(into.buffer, into.byteOffset, 16);
    view.setBigUint64(0, value.agentCgroupId, true);
    ip4ToBytes(value.proxyIp4, into, 8);
    view.setUint16(12, value.proxyPort, false);
    view.setUint16(14, 0, true);
    return into;
  },
  decode(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
    return {
      agentCgroupId: view.getBigUint64(0, true),
      proxyIp4: bytesToIp4(bytes, 8),
      proxyPort: view.getUint16(12, false),
    };
  },
};

export interface ProxyControl {
  /** Pods' SYNs to the proxy are held (dropped, to be retransmitted) while no agent listens. */
  holdSyns: boolean;
}

export const proxyControlCodec: StructCodec<ProxyControl> = {
  mirrors: 'struct weft_proxy_ctl',
  size: 4,
  fields: { hold_syns: { offset: 0, size: 4 } },
  encode(value, into = new Uint8Array(4)) {
    new DataView(into.buffer, into.byteOffset, 4).setUint32(0, value.holdSyns ? 1 : 0, true);
    return into;
  },
  decode(bytes) {
    return { holdSyns: new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) !== 0 };
  },
};

export interface AuthzDenyKey {
  /** The source identity's index (weft_authz_src's values). */
  source: number;
  ip4: string;
  port: number;
}

export const authzDenyKeyCodec: StructCodec<AuthzDenyKey> = {
  mirrors: 'struct weft_authz_deny_key',
  size: 12,
  fields: { src: { offset: 0, size: 4 }, ip4_be: { offset: 4, size: 4 }, port_be: { offset: 8, size: 2 }, _pad: { offset: 10, size: 2 } },
  encode(value, into = new Uint8Array(12)) {
    checkPort(value.port);
    if (!Number.isInteger(value.source) || value.source < 0 || value.source > 0xffffffff) throw new RangeError(`not a source index: ${value.source}`);
    const view = new DataView(into.buffer, into.byteOffset, 12);
    view.setUint32(0, value.source, true);
    ip4ToBytes(value.ip4, into, 4);
    view.setUint16(8, value.port, false);
    view.setUint16(10, 0, true);
    return into;
  },
  decode(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, 12);
    return { source: view.getUint32(0, true), ip4: bytesToIp4(bytes, 4), port: view.getUint16(8, false) };
  },
};

export interface PlainKey {
  /** Bits of the source prefix (0-32); the pod index is always matched whole. */
  prefixLength: number;
  pod: number;
  ip4: string;
}

export const plainKeyCodec: StructCodec<PlainKey> = {
  mirrors: 'struct weft_plain_key',
  size: 12,
  fields: { prefixlen: { offset: 0, size: 4 }, pod: { offset: 4, size: 4 }, ip4_be: { offset: 8, size: 4 } },
  encode(value, into = new Uint8Array(12)) {
    if (!Number.isInteger(value.prefixLength) || value.prefixLength < 0 || value.prefixLength > 32) throw new RangeError(`not a prefix length: ${value.prefixLength}`);
    const view = new DataView(into.buffer, into.byteOffset, 12);
    // prefixlen is a host-order u32 (bpf_lpm_trie_key) covering the pod index and the address.
    view.setUint32(0, 32 + value.prefixLength, true);
    view.setUint32(4, value.pod, true);
    ip4ToBytes(value.ip4, into, 8);
    return into;
  },
  decode(bytes) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, 12);
    return { prefixLength: view.getUint32(0, true) - 32, pod: view.getUint32(4, true), ip4: bytesToIp4(bytes, 8) };
  },
};

/** Every codec, for the layout test. */
export const allCodecs: readonly StructCodec<unknown>[] = [
  origDstCodec, peerKeyCodec, svcKeyCodec, cidrKeyCodec, configCodec, proxyControlCodec, authzDenyKeyCodec, plainKeyCodec,
] as StructCodec<unknown>[];
