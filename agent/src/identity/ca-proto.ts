// The `weft.ca.v1.CertificateService` definition, loaded from proto/weft/ca/v1/ca.proto at run
// time. The .proto stays the single source of truth for the wire format; it is found from the
// compiled file (dist/agent/src/identity/ -> four levels up is the repository root). Shared by
// the CA (server) and the agent (client).
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const CA_PROTO_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'proto', 'weft', 'ca', 'v1', 'ca.proto');

/** Field names as in the .proto (keepCase). */
export interface CreateCertificateRequest {
  csr: string;
  validity_seconds: number;
}

export interface CreateCertificateResponse {
  cert_chain: string[];
}

export interface CertificateServiceClient extends grpc.Client {
  CreateCertificate(
    request: CreateCertificateRequest,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, response?: CreateCertificateResponse) => void,
  ): grpc.ClientUnaryCall;
}

export interface CertificateServiceDefinition {
  service: grpc.ServiceDefinition;
  Client: new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => CertificateServiceClient;
}

let loaded: CertificateServiceDefinition | undefined;

export function certificateServiceDefinition(): CertificateServiceDefinition {
  if (loaded) return loaded;
  const packageDefinition = protoLoader.loadSync(CA_PROTO_PATH, {
    keepCase: true,
    // int64 as a JS number: lifetimes in seconds are far below 2^53.
    longs: Number,
    defaults: true,
  });
  const root = grpc.loadPackageDefinition(packageDefinition) as unknown as {
    weft: { ca: { v1: { CertificateService: grpc.ServiceClientConstructor } } };
  };
  const constructor = root.weft.ca.v1.CertificateService;
  loaded = {
    service: constructor.service,
    Client: constructor as unknown as CertificateServiceDefinition['Client'],
  };
  return loaded;
}
