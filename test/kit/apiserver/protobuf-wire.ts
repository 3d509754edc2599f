// Protocol Buffers wire-format reader (varint, 64-bit, length-delimited, 32-bit fields), enough
// to decode the protobuf bodies kubectl's typed clients send.

export class ProtobufError extends Error {}

export interface WireField {
  number: number;
  wireType: number;
  /** varint / fixed values as bigint; length-delimited as bytes. */
  value: bigint | Uint8Array;
}

export function readFields(buf: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new ProtobufError('truncated varint');
      const byte = buf[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new ProtobufError('varint too long');
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const number = key >>> 3;
    const wireType = key & 7;
    if (number === 0) throw new ProtobufError('field number 0');
    switch (wireType) {
      case 0:
        fields.push({ number, wireType, value: varint() });
        break;
      case 1: {
        if (pos + 8 > buf.length) throw new ProtobufError('truncated 64-bit field');
        const view = new DataView(buf.buffer, buf.byteOffset + pos, 8);
        fields.push({ number, wireType, value: view.getBigUint64(0, true) });
        pos += 8;
        break;
      }
      case 2: {
        const len = Number(varint());
        if (pos + len > buf.length) throw new ProtobufError('truncated length-delimited field');
        fields.push({ number, wireType, value: buf.subarray(pos, pos + len) });
        pos += len;
        break;
      }
      case 5: {
        if (pos + 4 > buf.length) throw new ProtobufError('truncated 32-bit field');
        const view = new DataView(buf.buffer, buf.byteOffset + pos, 4);
        fields.push({ number, wireType, value: BigInt(view.getUint32(0, true)) });
        pos += 4;
        break;
      }
      default:
        throw new ProtobufError(`unsupported wire type ${wireType}`);
    }
  }
  return fields;
}
