// Counters and histograms for the request path whose series are plain objects ("cells") the
// caller keeps: recording is an addition to a number, with no label hashing or validation
// (prom-client hashes the label set on every inc() and observe(), even through a child from
// labels()). The labels are set once, when a cell is made; a scrape renders every cell. They
// register in a prom-client Registry like its own metrics and give the same JSON (so
// AggregatorRegistry sums them across proxy workers) and the same text.
import type { Metric, Registry } from 'prom-client';

type Labels<L extends string> = Readonly<Record<L, string>>;

interface MetricJson {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: { labels: Record<string, string | number>; value: number; metricName?: string }[];
}

export interface CounterCell {
  inc(by?: number): void;
}

export interface HistogramCell {
  observe(value: number): void;
}

interface Options<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
  registers: Registry[];
}

class CounterSeries<L extends string> implements CounterCell {
  value = 0;
  constructor(readonly labels: Labels<L>) {}
  inc(by = 1): void {
    this.value += by;
  }
}

/** What prom-client's Registry reads of a metric: its name, help, labels and a get() at scrape. */
abstract class CellFamily<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator = 'sum';

  constructor(options: Options<L>) {
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames;
    for (const registry of options.registers) registry.registerMetric(this as unknown as Metric<string>);
  }

  abstract get(): Promise<MetricJson>;
}

export class CounterCells<L extends string> extends CellFamily<L> {
  readonly type = 'counter';
  private readonly cells: CounterSeries<L>[] = [];

  constructor(private readonly options: Options<L> & { collect?: () => void }) {
    super(options);
  }

  /** A new series with these labels; keep it and call inc() on it. Call once per label set. */
  cell(labels: Labels<L>): CounterCell {
    const cell = new CounterSeries(labels);
    this.cells.push(cell);
    return cell;
  }

  async get(): Promise<MetricJson> {
    this.options.collect?.();
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.cells.map((cell) => ({ labels: { ...cell.labels }, value: cell.value })),
    };
  }
}

class HistogramSeries<L extends string> implements HistogramCell {
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Labels<L>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class HistogramCells<L extends string> extends CellFamily<L> {
  readonly type = 'histogram';
  private readonly bounds: readonly number[];
  private readonly cells: HistogramSeries<L>[] = [];

  constructor(options: Options<L> & { buckets: readonly number[] }) {
    super(options);
    this.bounds = [...options.buckets].sort((a, b) => a - b);
  }

  /** A new series with these labels; keep it and call observe() on it. Call once per label set. */
  cell(labels: Labels<L>): HistogramCell {
    const cell = new HistogramSeries(labels, this.bounds);
    this.cells.push(cell);
    return cell;
  }

  async get(): Promise<MetricJson> {
    const values: MetricJson['values'] = [];
    for (const cell of this.cells) {
      // `le` first, as prom-client renders its histograms.
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += cell.counts[i]!;
        values.push({ labels: { le, ...cell.labels }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...cell.labels }, value: cell.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...cell.labels }, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...cell.labels }, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
