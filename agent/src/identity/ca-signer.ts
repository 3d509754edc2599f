// The CertificateSigner the agent gives its CertificateManager: `weft ca` over gRPC/TLS, verified
// against the current trust bundle, authenticated with the agent's projected service-account
// token. The token file is read for every request because the kubelet rewrites it before it
// expires; the client is rebuilt when the trust bundle changes (a new issuer signs the CA's
// serving certificate too) or the CA's address resolves differently (a Service re-created).
import { readFile } from 'node:fs/promises';
import type { AgentCaConfig } from '../config/agent-config.js';
import { resolveCaAddress, type CaTarget, type ServiceClusterIpLookup } from './ca-address.js';
import { CaClient } from './ca-client.js';
import type { CertificateSigner } from './certificate-manager.js';

export class CaSigner implements CertificateSigner {
  private client: CaClient | undefined;
  /** The bundle and target the client was built for. */
  private clientKey = '';
  private bundlePem: string | undefined;

  constructor(
    private readonly config: AgentCaConfig,
    private readonly serviceClusterIp: ServiceClusterIpLookup,
  ) {}

  setTrustBundle(bundlePem: string): void {
    this.bundlePem = bundlePem;
  }

  async sign(csrPem: string, validitySeconds: number): Promise<string[]> {
    const client = this.currentClient();
    const token = await this.readToken();
    return client.createCertificate({ csrPem, validitySeconds, token });
  }

  private currentClient(): CaClient {
    const bundlePem = this.bundlePem;
    if (bundlePem === undefined) throw new Error('no trust bundle yet, so the CA cannot be verified');
    const target: CaTarget = resolveCaAddress(this.config.address, this.config.serverName, this.serviceClusterIp);
    const key = `${target.address} ${target.serverName ?? ''} ${bundlePem}`;
    if (this.client === undefined || key !== this.clientKey) {
      this.client?.close();
      this.client = new CaClient({ address: target.address, trustBundlePem: bundlePem, serverName: target.serverName });
      this.clientKey = key;
    }
    return this.client;
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }

  private async readToken(): Promise<string> {
    let text: string;
    try {
      text = await readFile(this.config.tokenFile, 'utf8');
    } catch (err) {
      throw new Error(`reading the CA token file ${this.config.tokenFile} failed: ${(err as Error).message}`);
    }
    const token = text.trim();
    if (token === '') throw new Error(`the CA token file ${this.config.tokenFile} is empty`);
    return token;
  }
}
