// The agent's client of `weft ca`: one gRPC channel over TLS that trusts only the published trust
// bundle, and CreateCertificate calls carrying the agent's service-account token. The token is
// passed per call because the kubelet rotates projected tokens.
import * as grpc from '@grpc/grpc-js';
import { certificateServiceDefinition, type CertificateServiceClient } from './ca-proto.js';

export interface CaClientOptions {
  /** host:port of the CA (e.g. weft-ca.weft-system.svc:15012). */
  address: string;
  /** PEM roots from the `weft-trust-bundle` ConfigMap. */
  trustBundlePem: string;
  /** Name to verify in the CA's certificate when `address` is an IP the certificate lacks. */
  serverName?: string;
}

/** A refusal or failure of the CA, with the gRPC code and the CA's reason. */
export class CaCallError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`weft ca refused: ${grpc.status[code] ?? code}: ${details}`);
    this.name = 'CaCallError';
  }

  /** Worth retrying with backoff (the CA or the API server behind it is unavailable). */
  get retryable(): boolean {
    return this.code === grpc.status.UNAVAILABLE || this.code === grpc.status.DEADLINE_EXCEEDED || this.code === grpc.status.INTERNAL;
  }
}

export class CaClient {
  private readonly client: CertificateServiceClient;

  constructor(options: CaClientOptions) {
    const { Client } = certificateServiceDefinition();
    const channelOptions: grpc.ChannelOptions = options.serverName ? { 'grpc.ssl_target_name_override': options.serverName } : {};
    this.client = new Client(options.address, grpc.credentials.createSsl(Buffer.from(options.trustBundlePem)), channelOptions);
  }

  /** The PEM chain (leaf first); rejects with CaCallError. */
  createCertificate(request: { csrPem: string; validitySeconds: number; token: string; timeoutMs?: number }): Promise<string[]> {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${request.token}`);
    return new Promise((resolve, reject) => {
      this.client.CreateCertificate(
        { csr: request.csrPem, validity_seconds: request.validitySeconds },
        metadata,
        { deadline: Date.now() + (request.timeoutMs ?? 10_000) },
        (err, response) => {
          if (err) reject(new CaCallError(err.code, err.details));
          else if (!response || response.cert_chain.length === 0) reject(new CaCallError(grpc.status.INTERNAL, 'the CA answered without a certificate'));
          else resolve(response.cert_chain);
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
