// The metric names a PromQL expression reads. Not a full PromQL parser: it removes what cannot
// be a metric name (strings, label matchers, grouping and matching label lists, range and
// offset durations, Grafana variables, numbers) and keeps the identifiers that are not PromQL
// functions, aggregations or keywords.
const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min',
  'count_over_time', 'day_of_month', 'day_of_week', 'days_in_month', 'delta', 'deriv', 'exp', 'floor',
  'histogram_quantile', 'holt_winters', 'hour', 'idelta', 'increase', 'irate', 'label_join', 'label_replace',
  'last_over_time', 'ln', 'log10', 'log2', 'max_over_time', 'min_over_time', 'minute', 'month',
  'predict_linear', 'present_over_time', 'quantile_over_time', 'rate', 'resets', 'round', 'scalar', 'sgn',
  'sort', 'sort_desc', 'sqrt', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'time', 'timestamp',
  'vector', 'year',
]);
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan']);

export function promqlMetricNames(expression: string): string[] {
  let text = expression
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ') // string literals
    .replace(/\$\{[^}]*\}|\$[A-Za-z_]\w*/g, ' '); // Grafana variables ($__rate_interval, ${node})
  text = text.replace(/\{[^}]*\}/g, ' '); // label matchers
  text = text.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists
  text = text.replace(/\[[^\]]*\]/g, ' '); // range selectors and subqueries
  text = text.replace(/\boffset\s+-?\d+[a-z]+/g, ' ');
  const names = new Set<string>();
  for (const [identifier] of text.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    if (FUNCTIONS.has(identifier) || AGGREGATIONS.has(identifier) || KEYWORDS.has(identifier.toLowerCase())) continue;
    if (/^\d/.test(identifier)) continue;
    names.add(identifier);
  }
  // Numbers with exponents or units (1e3, 0.5) never match the identifier pattern above.
  return [...names];
}

/** Label names a PromQL expression matches on per metric (`metric{label="..."}`). */
export function promqlSelectorLabels(expression: string): Array<{ metric: string; label: string }> {
  const text = expression.replace(/\$\{[^}]*\}/g, '$var');
  const found: Array<{ metric: string; label: string }> = [];
  for (const [, metric, matchers] of text.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}/g)) {
    const withoutStrings = matchers!.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '');
    for (const [, label] of withoutStrings.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)/g)) found.push({ metric: metric!, label: label! });
  }
  return found;
}

/** Label names of `by (...)`, `without (...)`, `on (...)`, `ignoring (...)`, `group_left/right (...)` clauses. */
export function promqlGroupingLabels(expression: string): string[] {
  const labels = new Set<string>();
  for (const [, list] of expression.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)) {
    for (const label of list!.split(',').map((l) => l.trim()).filter(Boolean)) labels.add(label);
  }
  return [...labels];
}
