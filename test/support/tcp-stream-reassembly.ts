// Rebuilds the byte stream of each direction of each TCP connection in a capture from its
// segments, by sequence number: retransmitted and overlapping bytes count once, segments seen out
// of order are put back in place, and holes (bytes the capture never saw) are reported rather
// than papered over, so a caller can tell "this is the whole stream" from "this is most of it".
import type { TcpSegment } from './pcap-reader.js';

export interface TcpDirectionStream {
  sourceIp: string;
  sourcePort: number;
  destinationIp: string;
  destinationPort: number;
  /** True when the capture saw this direction's SYN, i.e. the stream is complete from byte 0. */
  synSeen: boolean;
  finSeen: boolean;
  /** The payload bytes in stream order (holes skipped; see `holes`). */
  data: Buffer;
  /** Byte ranges missing from the capture, as [start, end) offsets into the stream. */
  holes: [number, number][];
}

interface PendingDirection {
  sourceIp: string;
  sourcePort: number;
  destinationIp: string;
  destinationPort: number;
  /** Sequence number of the stream's first payload byte (ISN + 1 once the SYN is seen). */
  base: number | undefined;
  synSeen: boolean;
  finSeen: boolean;
  segments: { sequence: number; payload: Buffer }[];
}

/**
 * Groups segments by direction (source ip:port -> destination ip:port) and reassembles each.
 * A new SYN with another sequence number on the same 4-tuple starts a new stream.
 */
export function reassembleTcpStreams(segments: readonly TcpSegment[]): TcpDirectionStream[] {
  const open = new Map<string, PendingDirection>();
  const all: PendingDirection[] = [];
  for (const segment of segments) {
    const key = `${segment.sourceIp}:${segment.sourcePort}>${segment.destinationIp}:${segment.destinationPort}`;
    let direction = open.get(key);
    const isNewConnection =
      segment.flags.syn && direction !== undefined && direction.synSeen && direction.base !== ((segment.sequence + 1) >>> 0);
    if (direction === undefined || isNewConnection) {
      direction = {
        sourceIp: segment.sourceIp,
        sourcePort: segment.sourcePort,
        destinationIp: segment.destinationIp,
        destinationPort: segment.destinationPort,
        base: undefined,
        synSeen: false,
        finSeen: false,
        segments: [],
      };
      open.set(key, direction);
      all.push(direction);
    }
    if (segment.flags.syn) {
      direction.synSeen = true;
      direction.base = (segment.sequence + 1) >>> 0;
    }
    if (segment.flags.fin) direction.finSeen = true;
    if (segment.payload.length > 0) {
      // The SYN occupies one sequence number; a payload on a SYN (TCP Fast Open) starts after it.
      const sequence = segment.flags.syn ? (segment.sequence + 1) >>> 0 : segment.sequence;
      direction.segments.push({ sequence, payload: segment.payload });
    }
  }
  return all.map(assemble);
}

function assemble(direction: PendingDirection): TcpDirectionStream {
  const base = direction.base ?? direction.segments[0]?.sequence ?? 0;
  // Offsets modulo 2^32, so a stream that wraps its sequence space still sorts correctly.
  const placed = direction.segments
    .map((s) => ({ offset: (s.sequence - base) >>> 0, payload: s.payload }))
    .sort((a, b) => a.offset - b.offset);
  const chunks: Buffer[] = [];
  const holes: [number, number][] = [];
  let cursor = 0;
  for (const { offset, payload } of placed) {
    const end = offset + payload.length;
    if (end <= cursor) continue; // a retransmission of bytes already placed
    if (offset > cursor) {
      holes.push([cursor, offset]);
      cursor = offset;
    }
    chunks.push(payload.subarray(cursor - offset));
    cursor = end;
  }
  return {
    sourceIp: direction.sourceIp,
    sourcePort: direction.sourcePort,
    destinationIp: direction.destinationIp,
    destinationPort: direction.destinationPort,
    synSeen: direction.synSeen,
    finSeen: direction.finSeen,
    data: Buffer.concat(chunks),
    holes,
  };
}
