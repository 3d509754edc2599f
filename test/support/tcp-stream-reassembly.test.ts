// TCP stream reassembly on hand-made segments: order, retransmissions, holes, wrap-around.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TcpSegment } from './pcap-reader.js';
import { reassembleTcpStreams } from './tcp-stream-reassembly.js';

const SYN = { fin: false, syn: true, rst: false, psh: false, ack: false };
const DATA = { fin: false, syn: false, rst: false, psh: true, ack: true };
const FIN = { fin: true, syn: false, rst: false, psh: false, ack: true };

function segment(from: 'client' | 'server', sequence: number, payload: string, flags = DATA): TcpSegment {
  const client = { ip: '10.240.0.11', port: 40000 };
  const server = { ip: '10.240.0.12', port: 15008 };
  const [source, destination] = from === 'client' ? [client, server] : [server, client];
  return {
    packetIndex: 0,
    sourceIp: source.ip,
    sourcePort: source.port,
    destinationIp: destination.ip,
    destinationPort: destination.port,
    sequence: sequence >>> 0,
    acknowledgment: 0,
    flags,
    payload: Buffer.from(payload),
  };
}

test('each direction is rebuilt in sequence order, retransmissions counted once', () => {
  const streams = reassembleTcpStreams([
    segment('client', 1000, '', SYN),
    segment('server', 5000, '', { ...SYN, ack: true }),
    segment('client', 1001, 'hel'),
    segment('client', 1007, 'world'), // arrives before the bytes it follows
    segment('client', 1004, 'lo '),
    segment('client', 1001, 'hello'), // retransmission overlapping what is there
    segment('server', 5001, 'ok'),
    segment('client', 1012, '', FIN),
  ]);
  assert.equal(streams.length, 2);
  const [client, server] = streams;
  assert.equal(client!.data.toString(), 'hello world');
  assert.deepEqual([client!.synSeen, client!.finSeen, client!.holes], [true, true, []]);
  assert.equal(client!.destinationPort, 15008);
  assert.equal(server!.data.toString(), 'ok');
  assert.equal(server!.sourcePort, 15008);
});

test('bytes the capture never saw are reported as holes', () => {
  const [stream] = reassembleTcpStreams([segment('client', 1000, '', SYN), segment('client', 1001, 'ab'), segment('client', 1006, 'fg')]);
  assert.equal(stream!.data.toString(), 'abfg');
  assert.deepEqual(stream!.holes, [[2, 5]]);
});

test('a stream without its SYN starts at its first segment and says so', () => {
  const [stream] = reassembleTcpStreams([segment('client', 77, 'xy')]);
  assert.equal(stream!.synSeen, false);
  assert.equal(stream!.data.toString(), 'xy');
});

test('sequence numbers wrapping past 2^32 keep their order', () => {
  const [stream] = reassembleTcpStreams([
    segment('client', 0xfffffffd, '', SYN),
    segment('client', 0x00000000, 'cd'), // after wrapping
    segment('client', 0xfffffffe, 'ab'),
  ]);
  assert.equal(stream!.data.toString(), 'abcd');
  assert.deepEqual(stream!.holes, []);
});

test('a new SYN on the same 4-tuple starts a new stream', () => {
  const streams = reassembleTcpStreams([
    segment('client', 10, '', SYN),
    segment('client', 11, 'one'),
    segment('client', 900, '', SYN),
    segment('client', 901, 'two'),
  ]);
  assert.deepEqual(streams.map((s) => s.data.toString()), ['one', 'two']);
});
