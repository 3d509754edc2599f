// Checks that a byte stream (one direction of a TCP connection) is nothing but TLS records, from
// its first byte: content type 20-23 (change_cipher_spec, alert, handshake, application_data),
// legacy version 0x0303, a length within the TLS 1.3 limit. RFC 8446 5.1 lets the very first
// record of a client (its ClientHello) carry 0x0301 instead, which OpenSSL does; nowhere else.
// A single plaintext byte in the wrong place breaks the framing, so a stream that parses end to
// end is TLS throughout.

export const TLS_CONTENT_TYPES: Readonly<Record<number, string>> = {
  20: 'change_cipher_spec',
  21: 'alert',
  22: 'handshake',
  23: 'application_data',
};

const RECORD_HEADER_BYTES = 5;
/** TLSCiphertext.length must not exceed 2^14 + 256 (RFC 8446 5.2). */
export const MAX_TLS_RECORD_BYTES = 16384 + 256;
const TLS12_LEGACY_VERSION = 0x0303;
const TLS10_VERSION = 0x0301;

export interface TlsRecordHeader {
  /** Offset of the record header in the stream. */
  offset: number;
  contentType: number;
  version: number;
  length: number;
}

export interface TlsRecordStream {
  records: TlsRecordHeader[];
  /**
   * Bytes after the last complete record: the start of a record the stream (or the capture)
   * ended inside. Their header, as far as present, was valid.
   */
  trailingBytes: number;
}

export class TlsFramingError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(`not a TLS record at stream offset ${offset}: ${message}`);
    this.name = 'TlsFramingError';
  }
}

/** Parses `stream` as consecutive TLS records; throws TlsFramingError at the first that is not one. */
export function parseTlsRecords(stream: Buffer): TlsRecordStream {
  const records: TlsRecordHeader[] = [];
  let offset = 0;
  while (offset < stream.length) {
    const contentType = stream[offset]!;
    if (TLS_CONTENT_TYPES[contentType] === undefined) {
      throw new TlsFramingError(offset, `content type ${contentType} (bytes ${hexPreview(stream, offset)})`);
    }
    if (offset + 3 > stream.length) return { records, trailingBytes: stream.length - offset };
    const version = stream.readUInt16BE(offset + 1);
    const firstClientHello = records.length === 0 && contentType === 22 && version === TLS10_VERSION;
    if (version !== TLS12_LEGACY_VERSION && !firstClientHello) {
      throw new TlsFramingError(offset, `legacy version 0x${version.toString(16).padStart(4, '0')} (bytes ${hexPreview(stream, offset)})`);
    }
    if (offset + RECORD_HEADER_BYTES > stream.length) return { records, trailingBytes: stream.length - offset };
    const length = stream.readUInt16BE(offset + 3);
    if (length === 0 && contentType !== 23) throw new TlsFramingError(offset, `empty ${TLS_CONTENT_TYPES[contentType]} record`);
    if (length > MAX_TLS_RECORD_BYTES) throw new TlsFramingError(offset, `length ${length} exceeds ${MAX_TLS_RECORD_BYTES}`);
    if (offset + RECORD_HEADER_BYTES + length > stream.length) return { records, trailingBytes: stream.length - offset };
    records.push({ offset, contentType, version, length });
    offset += RECORD_HEADER_BYTES + length;
  }
  return { records, trailingBytes: 0 };
}

function hexPreview(stream: Buffer, offset: number): string {
  return stream.subarray(offset, offset + 8).toString('hex');
}
