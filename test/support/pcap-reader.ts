// A reader for classic pcap files (what `tcpdump -w` writes), so tests can check a capture
// themselves instead of trusting another tool's interpretation: the file header and records
// (either byte order, microsecond or nanosecond timestamps), then each Ethernet frame decoded as
// IPv4 + TCP. Anything else (ARP, IPv6, IP fragments, UDP) is returned as `other` with the
// reason, so a caller can insist that nothing but the expected TCP crossed a link.
//
// Layouts: pcap https://www.tcpdump.org/manpages/pcap-savefile.5.html, Ethernet II, IPv4
// (RFC 791), TCP (RFC 9293).

/** LINKTYPE_ETHERNET, the link type of a capture on a Linux bridge or veth. */
export const LINKTYPE_ETHERNET = 1;

const PCAP_FILE_HEADER_BYTES = 24;
const PCAP_RECORD_HEADER_BYTES = 16;
const MAGIC_MICROSECONDS = 0xa1b2c3d4;
const MAGIC_NANOSECONDS = 0xa1b23c4d;

export interface PcapPacket {
  /** Position of the record in the file, from 0. */
  index: number;
  /** Capture time in nanoseconds since the epoch (bigint: microsecond files lose nothing). */
  timestampNs: bigint;
  /** Length on the wire; more than data.length when the snapshot length cut the frame. */
  originalLength: number;
  /** The captured bytes of the frame. */
  data: Buffer;
}

export interface PcapFile {
  linkType: number;
  snapLength: number;
  packets: PcapPacket[];
}

export class PcapFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PcapFormatError';
  }
}

/** Parses a whole classic pcap file. Throws PcapFormatError for anything that is not one. */
export function readPcap(file: Buffer): PcapFile {
  if (file.length < PCAP_FILE_HEADER_BYTES) {
    throw new PcapFormatError(`a pcap file starts with a ${PCAP_FILE_HEADER_BYTES}-byte header; got ${file.length} bytes`);
  }
  let littleEndian: boolean;
  let nanoseconds: boolean;
  const magicLe = file.readUInt32LE(0);
  const magicBe = file.readUInt32BE(0);
  if (magicLe === MAGIC_MICROSECONDS || magicLe === MAGIC_NANOSECONDS) {
    littleEndian = true;
    nanoseconds = magicLe === MAGIC_NANOSECONDS;
  } else if (magicBe === MAGIC_MICROSECONDS || magicBe === MAGIC_NANOSECONDS) {
    littleEndian = false;
    nanoseconds = magicBe === MAGIC_NANOSECONDS;
  } else {
    throw new PcapFormatError(`not a classic pcap file (magic 0x${magicBe.toString(16).padStart(8, '0')}; pcapng is not supported)`);
  }
  const u16 = (offset: number): number => (littleEndian ? file.readUInt16LE(offset) : file.readUInt16BE(offset));
  const u32 = (offset: number): number => (littleEndian ? file.readUInt32LE(offset) : file.readUInt32BE(offset));
  const major = u16(4);
  if (major !== 2) throw new PcapFormatError(`pcap version ${major}.${u16(6)} is not supported (expected 2.4)`);
  const snapLength = u32(16);
  // The link type is the low 16 bits; the upper bits may carry FCS information.
  const linkType = u32(20) & 0xffff;

  const packets: PcapPacket[] = [];
  let offset = PCAP_FILE_HEADER_BYTES;
  while (offset < file.length) {
    if (offset + PCAP_RECORD_HEADER_BYTES > file.length) {
      throw new PcapFormatError(`record ${packets.length} at byte ${offset}: header cut short (${file.length - offset} of ${PCAP_RECORD_HEADER_BYTES} bytes)`);
    }
    const seconds = BigInt(u32(offset));
    const fraction = BigInt(u32(offset + 4));
    const capturedLength = u32(offset + 8);
    const originalLength = u32(offset + 12);
    const dataStart = offset + PCAP_RECORD_HEADER_BYTES;
    if (dataStart + capturedLength > file.length) {
      throw new PcapFormatError(`record ${packets.length} at byte ${offset}: ${capturedLength} captured bytes announced, ${file.length - dataStart} left in the file`);
    }
    if (capturedLength > originalLength) {
      throw new PcapFormatError(`record ${packets.length} at byte ${offset}: captured length ${capturedLength} exceeds the original length ${originalLength}`);
    }
    packets.push({
      index: packets.length,
      timestampNs: seconds * 1_000_000_000n + (nanoseconds ? fraction : fraction * 1_000n),
      originalLength,
      data: file.subarray(dataStart, dataStart + capturedLength),
    });
    offset = dataStart + capturedLength;
  }
  return { linkType, snapLength, packets };
}

export interface TcpFlags {
  fin: boolean;
  syn: boolean;
  rst: boolean;
  psh: boolean;
  ack: boolean;
}

export interface TcpSegment {
  /** The pcap record this segment came from. */
  packetIndex: number;
  sourceIp: string;
  destinationIp: string;
  sourcePort: number;
  destinationPort: number;
  sequence: number;
  acknowledgment: number;
  flags: TcpFlags;
  /** The TCP payload (Ethernet padding excluded: lengths come from the IPv4 header). */
  payload: Buffer;
}

export type DecodedFrame =
  | { kind: 'tcp'; segment: TcpSegment }
  | { kind: 'other'; packetIndex: number; reason: string };

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_VLAN = 0x8100;
const ETHERNET_HEADER_BYTES = 14;
const IP_PROTOCOL_TCP = 6;

/**
 * Decodes one Ethernet frame as IPv4 + TCP. Frames that are something else, or cut short by the
 * snapshot length, come back as `other` with the reason (never silently dropped).
 */
export function decodeEthernetFrame(packet: PcapPacket): DecodedFrame {
  const frame = packet.data;
  const other = (reason: string): DecodedFrame => ({ kind: 'other', packetIndex: packet.index, reason });
  if (packet.originalLength > frame.length) return other(`frame cut by the snapshot length (${frame.length} of ${packet.originalLength} bytes)`);
  if (frame.length < ETHERNET_HEADER_BYTES) return other(`runt Ethernet frame of ${frame.length} bytes`);
  let etherType = frame.readUInt16BE(12);
  let ipStart = ETHERNET_HEADER_BYTES;
  if (etherType === ETHERTYPE_VLAN) {
    if (frame.length < ETHERNET_HEADER_BYTES + 4) return other('VLAN tag cut short');
    etherType = frame.readUInt16BE(16);
    ipStart += 4;
  }
  if (etherType !== ETHERTYPE_IPV4) return other(`ethertype 0x${etherType.toString(16).padStart(4, '0')} is not IPv4`);
  if (frame.length < ipStart + 20) return other('IPv4 header cut short');
  const versionAndIhl = frame[ipStart]!;
  if (versionAndIhl >> 4 !== 4) return other(`IP version ${versionAndIhl >> 4} in an IPv4 frame`);
  const ipHeaderBytes = (versionAndIhl & 0x0f) * 4;
  if (ipHeaderBytes < 20) return other(`IPv4 header length ${ipHeaderBytes} is below 20`);
  // Total length 0 is what a capture shows for some GSO super-packets: take the frame's end then.
  const totalLength = frame.readUInt16BE(ipStart + 2) || frame.length - ipStart;
  if (ipStart + totalLength > frame.length) return other(`IPv4 total length ${totalLength} runs past the frame`);
  const fragment = frame.readUInt16BE(ipStart + 6);
  if ((fragment & 0x2000) !== 0 || (fragment & 0x1fff) !== 0) return other('IPv4 fragment');
  const protocol = frame[ipStart + 9]!;
  if (protocol !== IP_PROTOCOL_TCP) return other(`IP protocol ${protocol} is not TCP`);
  const sourceIp = ipv4Text(frame, ipStart + 12);
  const destinationIp = ipv4Text(frame, ipStart + 16);

  const tcpStart = ipStart + ipHeaderBytes;
  const ipEnd = ipStart + totalLength;
  if (tcpStart + 20 > ipEnd) return other('TCP header cut short');
  const tcpHeaderBytes = (frame[tcpStart + 12]! >> 4) * 4;
  if (tcpHeaderBytes < 20 || tcpStart + tcpHeaderBytes > ipEnd) return other(`TCP data offset ${tcpHeaderBytes} is invalid`);
  const flagBits = frame[tcpStart + 13]!;
  return {
    kind: 'tcp',
    segment: {
      packetIndex: packet.index,
      sourceIp,
      destinationIp,
      sourcePort: frame.readUInt16BE(tcpStart),
      destinationPort: frame.readUInt16BE(tcpStart + 2),
      sequence: frame.readUInt32BE(tcpStart + 4),
      acknowledgment: frame.readUInt32BE(tcpStart + 8),
      flags: {
        fin: (flagBits & 0x01) !== 0,
        syn: (flagBits & 0x02) !== 0,
        rst: (flagBits & 0x04) !== 0,
        psh: (flagBits & 0x08) !== 0,
        ack: (flagBits & 0x10) !== 0,
      },
      payload: frame.subarray(tcpStart + tcpHeaderBytes, ipEnd),
    },
  };
}

/** Reads a capture and decodes every frame (the file must be an Ethernet capture). */
export function readEthernetCapture(file: Buffer): DecodedFrame[] {
  const pcap = readPcap(file);
  if (pcap.linkType !== LINKTYPE_ETHERNET) {
    throw new PcapFormatError(`link type ${pcap.linkType} is not Ethernet (${LINKTYPE_ETHERNET})`);
  }
  return pcap.packets.map(decodeEthernetFrame);
}

function ipv4Text(buffer: Buffer, offset: number): string {
  return `${buffer[offset]}.${buffer[offset + 1]}.${buffer[offset + 2]}.${buffer[offset + 3]}`;
}
