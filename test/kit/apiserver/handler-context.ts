// What every resource handler receives: the parsed request and the server's shared parts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceDescriptor, ResourceRegistry } from './resource-registry.js';
import type { ObjectStore } from './store.js';
import type { ResourceWriter } from './resource-writer.js';
import type { WatchHub } from './watch.js';
import type { UserInfo } from './authentication.js';

export interface ServerParts {
  store: ObjectStore;
  registry: ResourceRegistry;
  writer: ResourceWriter;
  watches: WatchHub;
  maxBodyBytes: number;
  /** The server's log (e.g. pod deletions, which an audit log would record). */
  log: (msg: string, fields?: object) => void;
}

export interface ResourceRequest {
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  user: UserInfo;
  descriptor: ResourceDescriptor;
  namespace?: string;
  name?: string;
  subresource?: string;
}
