// A parser for the Prometheus text exposition format (version 0.0.4), enough for `weft stat`:
// samples with labels and values; comments and TYPE/HELP lines are skipped.

export interface Sample {
  name: string;
  labels: Readonly<Record<string, string>>;
  value: number;
}

export class MetricsParseError extends Error {}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    while (text[i] === ',' || text[i] === ' ') i++;
    if (i >= text.length) break;
    const eq = text.indexOf('=', i);
    if (eq < 0 || text[eq + 1] !== '"') throw new MetricsParseError(`line ${line}: bad label set`);
    const name = text.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        j++;
        value += text[j] === 'n' ? '\n' : text[j];
      } else value += text[j];
    }
    if (j >= text.length) throw new MetricsParseError(`line ${line}: unterminated label value`);
    labels[name] = value;
    i = j + 1;
  }
  return labels;
}

export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    let name: string;
    let labels: Record<string, string> = {};
    let rest: string;
    if (brace >= 0 && brace < (line.indexOf(' ') >>> 0)) {
      const close = line.lastIndexOf('}');
      if (close < brace) throw new MetricsParseError(`line ${n + 1}: unbalanced braces`);
      name = line.slice(0, brace);
      labels = parseLabels(line.slice(brace + 1, close), n + 1);
      rest = line.slice(close + 1).trim();
    } else {
      const space = line.indexOf(' ');
      if (space < 0) throw new MetricsParseError(`line ${n + 1}: no value`);
      name = line.slice(0, space);
      rest = line.slice(space + 1).trim();
    }
    const valueText = rest.split(/\s+/)[0]!;
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') throw new MetricsParseError(`line ${n + 1}: bad value "${valueText}"`);
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new MetricsParseError(`line ${n + 1}: bad metric name "${name}"`);
    samples.push({ name, labels, value });
  }
  return samples;
}
