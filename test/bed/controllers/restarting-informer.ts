// Moved to agent/src/k8s/restarting-informer.ts (the agent and the bed share one implementation).
export { RestartingInformer, type RestartingInformerOptions, type InformerLog } from '../../../agent/src/k8s/restarting-informer.js';
