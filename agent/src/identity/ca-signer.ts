// The CertificateSigner the agent gives its CertificateManager: `weft ca` over gRPC/TLS, verified
// against the current trust bundle, authenticated with the agent's projected service-account
// token. The token file is read for every request because the kubelet rewrites it before it
// expires; the client is rebuilt when the trust bundle changes (a new issuer signs the CA's
// serving certificate too).
import { readFile } from 'node:fs/promises';
import type { AgentCaConfig } from '../config/agent-config.js';
import { CaClient } from './ca-client.js';
import type { CertificateSigner } from './certificate-manager.js';

export class CaSigner implements CertificateSigner {
  private client: CaClient | undefined;
  private bundlePem: string | undefined;

  constructor(private readonly config: AgentCaConfig) {}

  setTrustBundle(bundlePem: string): void {
    if (bundlePem === this.bundlePem) return;
    this.client?.close();
    this.bundlePem = bundlePem;
    this.client = new CaClient({ address: this.config.address, trustBundlePem: bundlePem, serverName: this.config.serverName });
  }

  async sign(csrPem: string, validitySeconds: number): Promise<string[]> {
    const client = this.client;
    if (client === undefined) throw new Error('no trust bundle yet, so the CA cannot be verified');
    const token = await this.readToken();
    return client.createCertificate({ csrPem, validitySeconds, token });
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
