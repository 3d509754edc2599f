// Finds the CA's issuer at start: the `weft-ca` Secret if it exists (generated earlier or supplied
// by a user), else a new root created exactly once - when two CA replicas race, the loser of the
// create (409) reads and uses the winner's root, so the cluster never has two roots. Then the
// trust bundle ConfigMap is made to match the issuer.
import type { Logger } from 'pino';
import type { CaSecrets } from '../k8s/ca-secrets.js';
import { loadIssuer, type Issuer } from './issuer.js';
import { generateRootCa } from './root-ca.js';

export async function bootstrapIssuer(secrets: CaSecrets, trustDomain: string, log: Logger): Promise<Issuer> {
  const where = `Secret ${secrets.namespace}/weft-ca`;
  let material = await secrets.readIssuer();
  if (!material) {
    const generated = await generateRootCa(trustDomain);
    const outcome = await secrets.createIssuer(generated);
    if (outcome === 'created') {
      log.info({ secret: where }, 'generated a new root CA');
      material = generated;
    } else {
      log.info({ secret: where }, 'another CA created the root first; using it');
      material = await secrets.readIssuer();
      if (!material) throw new Error(`${where} was created by someone else and then deleted; restart the CA`);
    }
  }
  const issuer = await loadIssuer(material.certificatePem, material.keyPem, where);
  if (!issuer.chainEndsInRoot) {
    log.warn(
      { secret: where },
      'ca.crt has no self-signed root; the trust bundle holds the top of the chain, which TLS peers that need a root refuse; append the root to ca.crt',
    );
  }
  const published = await secrets.publishTrustBundle(issuer.trustBundlePem);
  log.info(
    { issuer: issuer.certificate.subject, notAfter: issuer.certificate.notAfter.toISOString(), trustBundle: published },
    'issuer loaded',
  );
  return issuer;
}
