// The test kit's support API: what the product's tests use from the in-repo API server and the
// bed. Product tests import from here only, so the kit's insides can change without touching
// them (test/kit/README.md).
export { startApiServer, type ApiServerHandle } from './apiserver/server.js';
export { bedOk, runBedCli, type CliResult } from './bed/bed-cli-runner.js';
export type { BedStatus } from './bed/commands/status.js';
export { bedPrefix, bridgeNetnsName } from './bed/bed-naming.js';
export { removeCgroupTree } from './bed/cgroup-ops.js';
export { parseManifests } from './bed/chart-install.js';
export { kubectl } from './kubectl.js';
