// The proxy's question after accept: where was this client going? Answered from weft_peer_dst,
// which sockops filled when the redirected connection was established. The entry is removed
// once read: the proxy asks once per connection.
import * as libbpf from '../../../native/src/libbpf.js';
import { bytesToIp4, origDstCodec, peerKeyCodec } from './abi.js';

export interface OriginalDestination {
  ip: string;
  port: number;
}

export class OriginalDestinationTable {
  private readonly key = new Uint8Array(peerKeyCodec.size);
  private readonly value = new Uint8Array(origDstCodec.size);

  constructor(private readonly peerMapFd: number) {}

  take(peerIp: string, peerPort: number): OriginalDestination | undefined {
    peerKeyCodec.encode({ ip4: peerIp, port: peerPort }, this.key);
    if (!libbpf.mapLookup(this.peerMapFd, this.key, this.value)) return undefined;
    libbpf.mapDelete(this.peerMapFd, this.key);
    return { ip: bytesToIp4(this.value, 0), port: (this.value[4]! << 8) | this.value[5]! };
  }
}
