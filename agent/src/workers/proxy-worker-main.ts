// The entry of a proxy worker thread (started by ProxyWorkerPool): builds the worker from its
// start data and serves the control thread's messages. An error in one call is sent back as a
// failed reply; an uncaught one ends only this thread, which the pool replaces.
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log/logger.js';
import { ProxyWorker } from './proxy-worker.js';
import type { ControlMessage, ProxyWorkerInit, WorkerMessage } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('proxy-worker-main.js runs only as a worker thread');
const init = workerData as ProxyWorkerInit;
const log = createLogger(init.logLevel, { node: init.nodeName, worker: String(init.index) });
const worker = new ProxyWorker(init, log);
const send = (message: WorkerMessage): void => port.postMessage(message);

port.on('message', (message: ControlMessage) => {
  switch (message.type) {
    case 'snapshot':
      worker.useSnapshot(message.snapshot, message.changedAtMs);
      return;
    case 'snapshot-delta':
      if (!worker.applyDelta(message.delta, message.changedAtMs)) {
        log.warn({ subsys: 'worker', baseVersion: message.delta.baseVersion }, 'snapshot delta for another base; asking for the whole snapshot');
        send({ type: 'resync' });
      }
      return;
    case 'credentials':
      try {
        worker.useCredentials(message.credentials);
      } catch (err) {
        // The control thread built the same contexts before sending: this is not expected;
        // the worker keeps the credentials it had.
        log.error({ subsys: 'worker', err }, 'applying new credentials failed');
      }
      return;
    case 'call':
      worker.call(message.name, message.arg).then(
        (result) => send({ type: 'reply', id: message.id, result }),
        (err: unknown) => send({ type: 'failed', id: message.id, message: err instanceof Error ? err.message : String(err) }),
      );
      return;
  }
});
send({ type: 'ready' });
