// Validates a rendered object against the Kubernetes schemas with kubernetes-models (built-in
// kinds) and @kubernetes-models/prometheus-operator (PodMonitor, PrometheusRule, ...). Each model
// class carries its compiled JSON schema; validate() throws with the failing path.
import type { KubeObject } from './helm-render.js';

interface ValidatingModel {
  validate(): void;
}
type ModelClass = new (data: object) => ValidatingModel;

/** The module that defines a kind: kubernetes-models/<group>/<version>/<Kind> (core: v1/<Kind>). */
function modelModule(apiVersion: string, kind: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'monitoring.coreos.com') return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
  return group === '' ? `kubernetes-models/${version}/${kind}` : `kubernetes-models/${group}/${version}/${kind}`;
}

export async function validateWithKubernetesModels(object: KubeObject): Promise<void> {
  const where = `${object.kind}/${object.metadata.name} (${object.apiVersion})`;
  let module: Record<string, unknown>;
  try {
    module = (await import(modelModule(object.apiVersion, object.kind))) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${where}: no schema for this kind in kubernetes-models: ${(err as Error).message}`);
  }
  const Model = module[object.kind] as ModelClass | undefined;
  if (typeof Model !== 'function') throw new Error(`${where}: the module exports no ${object.kind} class`);
  try {
    new Model(object).validate();
  } catch (err) {
    throw new Error(`${where} does not validate: ${(err as Error).message}`);
  }
}
