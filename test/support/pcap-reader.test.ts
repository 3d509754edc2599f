// The pcap reader against hand-built captures: every byte below is laid out here, so the
// reader is checked against the formats themselves, not against another tool.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEthernetFrame, LINKTYPE_ETHERNET, PcapFormatError, readEthernetCapture, readPcap, type TcpSegment } from './pcap-reader.js';

interface FrameSpec {
  sourceIp: string;
  destinationIp: string;
  sourcePort: number;
  destinationPort: number;
  sequence: number;
  flags: number; // TCP flag bits (SYN 0x02, ACK 0x10, PSH 0x08, FIN 0x01)
  payload?: Buffer;
  tcpOptionsBytes?: number;
  ipOptionsBytes?: number;
  padTo?: number; // Ethernet frames shorter than 60 bytes are padded on the wire
}

function ipBytes(text: string): number[] {
  return text.split('.').map(Number);
}

function tcpFrame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const ipHeaderBytes = 20 + (spec.ipOptionsBytes ?? 0);
  const tcpHeaderBytes = 20 + (spec.tcpOptionsBytes ?? 0);
  const ethernet = Buffer.from([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
  const ip = Buffer.alloc(ipHeaderBytes);
  ip[0] = 0x40 | (ipHeaderBytes / 4);
  ip.writeUInt16BE(ipHeaderBytes + tcpHeaderBytes + payload.length, 2);
  ip.writeUInt16BE(0x4000, 6); // don't fragment
  ip[8] = 64;
  ip[9] = 6;
  Buffer.from(ipBytes(spec.sourceIp)).copy(ip, 12);
  Buffer.from(ipBytes(spec.destinationIp)).copy(ip, 16);
  const tcp = Buffer.alloc(tcpHeaderBytes, 1); // options filled with NOPs
  tcp.writeUInt16BE(spec.sourcePort, 0);
  tcp.writeUInt16BE(spec.destinationPort, 2);
  tcp.writeUInt32BE(spec.sequence >>> 0, 4);
  tcp.writeUInt32BE(7, 8);
  tcp[12] = (tcpHeaderBytes / 4) << 4;
  tcp[13] = spec.flags;
  tcp.writeUInt16BE(65535, 14);
  tcp.writeUInt32BE(0, 16);
  const frame = Buffer.concat([ethernet, ip, tcp, payload]);
  return spec.padTo && frame.length < spec.padTo ? Buffer.concat([frame, Buffer.alloc(spec.padTo - frame.length, 0xee)]) : frame;
}

function arpFrame(): Buffer {
  const frame = Buffer.alloc(42);
  frame.writeUInt16BE(0x0806, 12);
  return frame;
}

function ipv6Frame(): Buffer {
  const frame = Buffer.alloc(74);
  frame.writeUInt16BE(0x86dd, 12);
  frame[14] = 0x60;
  return frame;
}

interface RecordSpec {
  data: Buffer;
  seconds: number;
  fraction: number;
  originalLength?: number;
}

function pcapFile(records: RecordSpec[], options: { bigEndian?: boolean; nanoseconds?: boolean; linkType?: number } = {}): Buffer {
  const be = options.bigEndian ?? false;
  const u32 = (value: number): Buffer => {
    const b = Buffer.alloc(4);
    if (be) b.writeUInt32BE(value >>> 0);
    else b.writeUInt32LE(value >>> 0);
    return b;
  };
  const u16 = (value: number): Buffer => {
    const b = Buffer.alloc(2);
    if (be) b.writeUInt16BE(value);
    else b.writeUInt16LE(value);
    return b;
  };
  const parts = [
    u32(options.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4), u16(2), u16(4), u32(0), u32(0), u32(262144), u32(options.linkType ?? LINKTYPE_ETHERNET),
  ];
  for (const r of records) {
    parts.push(u32(r.seconds), u32(r.fraction), u32(r.data.length), u32(r.originalLength ?? r.data.length), r.data);
  }
  return Buffer.concat(parts);
}

const handshake = {
  sourceIp: '10.240.0.11',
  destinationIp: '10.240.0.12',
  sourcePort: 44584,
  destinationPort: 15008,
};

function onlyTcp(frames: ReturnType<typeof readEthernetCapture>): TcpSegment[] {
  return frames.flatMap((f) => (f.kind === 'tcp' ? [f.segment] : []));
}

describe('readPcap', () => {
  test('reads the header and records of a little-endian microsecond file', () => {
    const a = tcpFrame({ ...handshake, sequence: 100, flags: 0x02 });
    const b = tcpFrame({ ...handshake, sequence: 101, flags: 0x18, payload: Buffer.from('hello') });
    const pcap = readPcap(pcapFile([{ data: a, seconds: 1_800_000_000, fraction: 250_000 }, { data: b, seconds: 1_800_000_001, fraction: 1 }]));
    assert.equal(pcap.linkType, LINKTYPE_ETHERNET);
    assert.equal(pcap.snapLength, 262144);
    assert.equal(pcap.packets.length, 2);
    assert.equal(pcap.packets[0]!.timestampNs, 1_800_000_000_250_000_000n);
    assert.equal(pcap.packets[1]!.timestampNs, 1_800_000_001_000_001_000n);
    assert.deepEqual(pcap.packets[1]!.data, b);
    assert.equal(pcap.packets[1]!.index, 1);
  });

  test('reads big-endian and nanosecond files the same way', () => {
    const a = tcpFrame({ ...handshake, sequence: 5, flags: 0x10 });
    const pcap = readPcap(pcapFile([{ data: a, seconds: 10, fraction: 123_456_789 }], { bigEndian: true, nanoseconds: true }));
    assert.equal(pcap.packets.length, 1);
    assert.equal(pcap.packets[0]!.timestampNs, 10_123_456_789n);
    assert.deepEqual(pcap.packets[0]!.data, a);
  });

  test('an empty capture (header only) has no packets', () => {
    assert.deepEqual(readPcap(pcapFile([])).packets, []);
  });

  test('rejects what is not a complete classic pcap file, saying why', () => {
    assert.throws(() => readPcap(Buffer.alloc(10)), (err: Error) => err instanceof PcapFormatError && /24-byte header/.test(err.message));
    const pcapng = Buffer.alloc(28);
    pcapng.writeUInt32BE(0x0a0d0d0a, 0);
    assert.throws(() => readPcap(pcapng), /not a classic pcap file.*pcapng/);
    const whole = pcapFile([{ data: tcpFrame({ ...handshake, sequence: 1, flags: 0x10 }), seconds: 1, fraction: 0 }]);
    assert.throws(() => readPcap(whole.subarray(0, whole.length - 3)), /record 0 at byte 24: \d+ captured bytes announced/);
    assert.throws(() => readPcap(whole.subarray(0, 30)), /record 0 at byte 24: header cut short/);
  });
});

describe('decodeEthernetFrame / readEthernetCapture', () => {
  test('decodes addresses, ports, sequence numbers, flags and payload', () => {
    const payload = Buffer.from('GET / HTTP/1.1\r\n\r\n');
    const frames = readEthernetCapture(pcapFile([
      { data: tcpFrame({ ...handshake, sequence: 0xfffffff0, flags: 0x18, payload, tcpOptionsBytes: 12 }), seconds: 1, fraction: 0 },
    ]));
    assert.equal(frames.length, 1);
    const frame = frames[0]!;
    assert.equal(frame.kind, 'tcp');
    assert.ok(frame.kind === 'tcp');
    assert.deepEqual(frame.segment, {
      packetIndex: 0,
      sourceIp: '10.240.0.11',
      destinationIp: '10.240.0.12',
      sourcePort: 44584,
      destinationPort: 15008,
      sequence: 0xfffffff0,
      acknowledgment: 7,
      flags: { fin: false, syn: false, rst: false, psh: true, ack: true },
      payload,
    });
  });

  test('takes lengths from the IP header: Ethernet padding is not payload, IP options are skipped', () => {
    const segments = onlyTcp(readEthernetCapture(pcapFile([
      { data: tcpFrame({ ...handshake, sequence: 1, flags: 0x10, padTo: 60 }), seconds: 1, fraction: 0 },
      { data: tcpFrame({ ...handshake, sequence: 1, flags: 0x18, payload: Buffer.from('ab'), padTo: 60 }), seconds: 1, fraction: 0 },
      { data: tcpFrame({ ...handshake, sequence: 3, flags: 0x18, payload: Buffer.from('xyz'), ipOptionsBytes: 8 }), seconds: 1, fraction: 0 },
    ])));
    assert.deepEqual(segments.map((s) => s.payload.toString()), ['', 'ab', 'xyz']);
    assert.equal(segments[2]!.sourceIp, '10.240.0.11', 'addresses still read after IP options');
  });

  test('reports every frame it cannot decode as IPv4/TCP instead of dropping it', () => {
    const fragment = tcpFrame({ ...handshake, sequence: 1, flags: 0x10 });
    fragment.writeUInt16BE(0x2000, 14 + 6); // more fragments
    const udp = tcpFrame({ ...handshake, sequence: 1, flags: 0x10 });
    udp[14 + 9] = 17;
    const frames = readEthernetCapture(pcapFile([
      { data: arpFrame(), seconds: 1, fraction: 0 },
      { data: ipv6Frame(), seconds: 1, fraction: 0 },
      { data: fragment, seconds: 1, fraction: 0 },
      { data: udp, seconds: 1, fraction: 0 },
      { data: tcpFrame({ ...handshake, sequence: 1, flags: 0x10 }).subarray(0, 40), seconds: 1, fraction: 0, originalLength: 54 },
    ]));
    assert.deepEqual(frames.map((f) => (f.kind === 'other' ? f.reason : 'tcp')), [
      'ethertype 0x0806 is not IPv4',
      'ethertype 0x86dd is not IPv4',
      'IPv4 fragment',
      'IP protocol 17 is not TCP',
      'frame cut by the snapshot length (40 of 54 bytes)',
    ]);
    assert.deepEqual(frames.map((f) => (f.kind === 'other' ? f.packetIndex : -1)), [0, 1, 2, 3, 4]);
  });

  test('a VLAN-tagged frame is decoded past its tag', () => {
    const plain = tcpFrame({ ...handshake, sequence: 9, flags: 0x18, payload: Buffer.from('v') });
    const tagged = Buffer.concat([plain.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 0x05]), plain.subarray(12)]);
    const frame = decodeEthernetFrame({ index: 0, timestampNs: 0n, originalLength: tagged.length, data: tagged });
    assert.ok(frame.kind === 'tcp', JSON.stringify(frame));
    assert.equal(frame.segment.payload.toString(), 'v');
  });

  test('refuses a capture of another link type', () => {
    assert.throws(() => readEthernetCapture(pcapFile([], { linkType: 113 })), /link type 113 is not Ethernet/);
  });
});
