// `CreateCertificate`: authenticate the caller's token, check the CSR, authorize the identity for
// the caller's node, sign. Refusals become gRPC statuses here and nowhere else, each with its
// reason in the status message and one log line.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { PodPlacement } from '../k8s/workload-pods.js';
import { CaRequestError, type CaRefusal } from './ca-request-error.js';
import { bearerToken, type AuthenticatedCaller, type CallerAuthenticator } from './caller-authenticator.js';
import { checkWorkloadCsr } from './workload-csr.js';
import { authorizeIdentityForNode } from './node-authorizer.js';
import { certificateLifetimeSeconds, type LifetimePolicy } from './certificate-lifetime.js';
import { issueWorkloadCertificate, type IssuedCertificate } from './workload-certificate.js';
import type { Issuer } from './issuer.js';
import type { CreateCertificateRequest, CreateCertificateResponse } from '../identity/ca-proto.js';

const STATUS_OF_REFUSAL: Record<CaRefusal, grpc.status> = {
  unauthenticated: grpc.status.UNAUTHENTICATED,
  'permission-denied': grpc.status.PERMISSION_DENIED,
  'invalid-argument': grpc.status.INVALID_ARGUMENT,
  unavailable: grpc.status.UNAVAILABLE,
};

export interface NodePodLookup {
  onNode(namespace: string, nodeName: string): Promise<PodPlacement[]>;
}

export interface CertificateServiceOptions {
  authenticator: CallerAuthenticator;
  pods: NodePodLookup;
  issuer: Issuer;
  trustDomain: string;
  lifetimes: LifetimePolicy;
  log: Logger;
}

export class CertificateService {
  constructor(private readonly options: CertificateServiceOptions) {}

  /** Throws CaRequestError for every refusal. */
  async createCertificate(
    authorization: readonly unknown[],
    request: CreateCertificateRequest,
    context: { caller?: AuthenticatedCaller },
  ): Promise<IssuedCertificate & { spiffeId: string }> {
    const caller = await this.options.authenticator.authenticate(bearerToken(authorization));
    context.caller = caller;
    const csr = await checkWorkloadCsr(request.csr, this.options.trustDomain);
    const lifetimeSeconds = certificateLifetimeSeconds(Number(request.validity_seconds ?? 0), this.options.lifetimes);
    let pods: PodPlacement[];
    try {
      pods = await this.options.pods.onNode(csr.identity.namespace, caller.nodeName);
    } catch (err) {
      throw new CaRequestError('unavailable', `listing pods on node ${caller.nodeName} failed, try again: ${(err as Error).message}`);
    }
    const decision = authorizeIdentityForNode(csr.identity, caller.nodeName, pods);
    if (!decision.allowed) throw new CaRequestError('permission-denied', `${csr.spiffeId} refused for node ${caller.nodeName}: ${decision.reason}`);
    const issued = await issueWorkloadCertificate(this.options.issuer, csr, lifetimeSeconds);
    return { ...issued, spiffeId: csr.spiffeId };
  }

  /** The grpc-js implementation object for `addService`. */
  handlers(): grpc.UntypedServiceImplementation {
    const log = this.options.log;
    const createCertificate: grpc.handleUnaryCall<CreateCertificateRequest, CreateCertificateResponse> = (call, callback) => {
      const context: { caller?: AuthenticatedCaller } = {};
      const peer = call.getPeer();
      this.createCertificate(call.metadata.get('authorization'), call.request, context).then(
        (issued) => {
          log.info(
            { peer, caller: context.caller?.username, node: context.caller?.nodeName, spiffeId: issued.spiffeId, serial: issued.serialNumber, notAfter: issued.notAfter.toISOString() },
            'certificate issued',
          );
          callback(null, { cert_chain: issued.chainPem });
        },
        (err: unknown) => {
          if (err instanceof CaRequestError) {
            log.warn({ peer, caller: context.caller?.username, node: context.caller?.nodeName, refusal: err.refusal, reason: err.reason }, 'certificate refused');
            callback({ code: STATUS_OF_REFUSAL[err.refusal], details: err.reason });
            return;
          }
          log.error({ peer, err }, 'certificate request failed');
          callback({ code: grpc.status.INTERNAL, details: 'the CA failed to sign; see its log' });
        },
      );
    };
    return { CreateCertificate: createCertificate };
  }
}
