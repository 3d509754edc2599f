// `delete`: deletes a Pod (with its grace period, as kubectl does) and waits until the bed's
// kubelet has stopped it and the object is gone.
import { CoreV1Api } from '@kubernetes/client-node';
import { type ParsedCommandLine, integerFlag, positionals, stringFlag } from '../cli-args.js';
import { loadKubeConfig, describeApiError, isNotFound } from '../kube-client.js';
import { waitFor } from '../../../support/wait-for.js';
import { requireRunningBed, type BedContext } from './bed-context.js';

export async function deleteCommand(ctx: BedContext, parsed: ParsedCommandLine): Promise<number> {
  const [name] = positionals(parsed, ['name']);
  const namespace = stringFlag(parsed, 'namespace') ?? 'default';
  const timeoutSeconds = integerFlag(parsed, 'timeout', 1, 3600) ?? 60;
  const record = await requireRunningBed(ctx);
  const core = loadKubeConfig(record.kubeconfig).makeApiClient(CoreV1Api);
  try {
    await core.deleteNamespacedPod({ name: name!, namespace });
  } catch (err) {
    if (isNotFound(err)) throw new Error(`pod ${namespace}/${name} not found`);
    throw new Error(`deleting pod ${namespace}/${name} failed: ${describeApiError(err)}`);
  }
  await waitFor(async () => {
    try {
      await core.readNamespacedPod({ name: name!, namespace });
      return false;
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
  }, { timeoutMs: timeoutSeconds * 1000, intervalMs: 100, what: `pod ${namespace}/${name} to be gone` });
  process.stdout.write(`pod ${namespace}/${name} deleted\n`);
  return 0;
}
