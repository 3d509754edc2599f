// The chart's alert rules, proven with Prometheus itself: `promtool check rules` on the rendered
// PrometheusRule, and `promtool test rules` feeding series over time and asserting which alerts
// fire, with which labels and annotations.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { makeTempDir, type TempDir } from '../support/temp-dir.js';
import { findObject, renderChart } from './helm-render.js';

let dir: TempDir;
let rulesFile: string;

function promtool(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr });
    });
  });
}

before(async () => {
  dir = await makeTempDir('alert-rules');
  const rule = findObject<any>(await renderChart({ set: ['alerts.enabled=true'] }), 'PrometheusRule', 'weft');
  rulesFile = join(dir.path, 'rules.yaml');
  await writeFile(rulesFile, stringifyYaml({ groups: rule.spec.groups }));
});

after(async () => {
  await dir?.remove();
});

test('promtool accepts every rule', async () => {
  const result = await promtool(['check', 'rules', rulesFile]);
  assert.equal(result.code, 0, result.output);
});

test('WeftAuthzDenialsSpike fires when denials jump (from zero too), not for a steady rate or for dry-run', async () => {
  const series = (labels: Record<string, string>) => `weft_authz_decisions_total{${Object.entries({
    reporter: 'destination', decision: 'deny', dry_run: 'false', source_principal: 'spiffe://cluster.local/ns/prod/sa/default', ...labels,
  }).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  const spec = {
    rule_files: [rulesFile],
    evaluation_interval: '1m',
    tests: [{
      interval: '1m',
      input_series: [
        // Denied at 2/s from minute 71, after an hour of none counted.
        { series: series({ policy: 'ClusterAuthorizationPolicy//no-prod-to-dev', destination_namespace: 'dev', destination_workload: 'web' }), values: '0x70 0+120x30' },
        // A series that did not exist before minute 71 (the first denial ever).
        { series: series({ policy: 'default', destination_namespace: 'shop', destination_workload: 'orders' }), values: '_x70 0+120x30' },
        // 2/s for the whole time: a steady state, not a spike.
        { series: series({ policy: 'default', destination_namespace: 'shop', destination_workload: 'cart' }), values: '0+120x100' },
        // Dry-run would-be denials never page anyone.
        { series: series({ policy: 'AuthorizationPolicy/shop/try', destination_namespace: 'shop', destination_workload: 'web', dry_run: 'true' }), values: '0x70 0+600x30' },
      ],
      alert_rule_test: [
        { eval_time: '60m', alertname: 'WeftAuthzDenialsSpike', exp_alerts: [] },
        {
          eval_time: '90m',
          alertname: 'WeftAuthzDenialsSpike',
          exp_alerts: [
            {
              exp_labels: { severity: 'warning', destination_namespace: 'dev', destination_workload: 'web', policy: 'ClusterAuthorizationPolicy//no-prod-to-dev' },
              exp_annotations: {
                summary: 'Authorization denials rising for dev/web (2/s, ClusterAuthorizationPolicy//no-prod-to-dev)',
                description: 'Requests to this workload are being denied by an authorization policy much more than in the last hour; `weft policy explain` shows why a caller is denied.',
              },
            },
            {
              exp_labels: { severity: 'warning', destination_namespace: 'shop', destination_workload: 'orders', policy: 'default' },
              exp_annotations: {
                summary: 'Authorization denials rising for shop/orders (2/s, default)',
                description: 'Requests to this workload are being denied by an authorization policy much more than in the last hour; `weft policy explain` shows why a caller is denied.',
              },
            },
          ],
        },
      ],
    }],
  };
  const testFile = join(dir.path, 'authz-test.yaml');
  await writeFile(testFile, stringifyYaml(spec));
  const result = await promtool(['test', 'rules', testFile]);
  assert.equal(result.code, 0, result.output);
});
