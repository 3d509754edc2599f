// Traffic metrics of a node proxy, with Istio's label schema so existing dashboards and
// `weft stat` read them the same way. Label values come only from the mesh snapshot (workload
// and namespace names) or from small fixed sets (status codes, error codes), never from raw
// request input, so the number of series stays bounded.
//
// TCP metrics count every proxied client connection, HTTP ones included. An opaque TCP
// connection is labelled with the endpoint it was relayed to; an HTTP connection to a Service
// spreads its requests over several endpoints, so its connection-level series carry
// destination_workload="unknown" (the request metrics name each endpoint's workload). Bytes are
// the client side: sent = written to the client, received = read from the client.
//
// Per-request cost: the proxy resolves a TrafficMetrics once per (source, destination) pair of
// label objects (a WeakMap lookup by identity); recording a request is then one Map lookup by
// status code, one addition and one bucket search on cells made once per label set
// (cell-metrics.ts): no label hashing on the request path.
import { Counter, type Registry } from 'prom-client';
import { CounterCells, HistogramCells, type CounterCell, type HistogramCell } from './cell-metrics.js';

export const UNKNOWN_LABEL = 'unknown';

/** Who sent the traffic. Build one object per workload and reuse it: it is a cache key. */
export interface SourceLabels {
  readonly workload: string;
  readonly namespace: string;
  /** SPIFFE id once mTLS exists; UNKNOWN_LABEL until then. */
  readonly principal: string;
}

/** Where it went. Build one object per (service, endpoint workload) and reuse it: it is a cache key. */
export interface DestinationLabels {
  /** `<name>.<namespace>.svc.cluster.local`, the workload name for a pod destination, or UNKNOWN_LABEL. */
  readonly service: string;
  readonly workload: string;
  readonly namespace: string;
}

export const UNKNOWN_SOURCE: SourceLabels = Object.freeze({
  workload: UNKNOWN_LABEL,
  namespace: UNKNOWN_LABEL,
  principal: UNKNOWN_LABEL,
});

export const UNKNOWN_DESTINATION: DestinationLabels = Object.freeze({
  service: UNKNOWN_LABEL,
  workload: UNKNOWN_LABEL,
  namespace: UNKNOWN_LABEL,
});

/** Seconds; from sub-millisecond loopback hops to slow backends and long polls. */
export const REQUEST_DURATION_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

const REQUEST_LABELS = [
  'reporter',
  'source_workload',
  'source_namespace',
  'source_principal',
  'destination_service',
  'destination_workload',
  'destination_namespace',
  'response_code',
  'request_protocol',
  'grpc_response_status',
  'connection_security_policy',
] as const;

const TCP_LABELS = [
  'reporter',
  'source_workload',
  'source_namespace',
  'source_principal',
  'destination_service',
  'destination_workload',
  'destination_namespace',
  'connection_security_policy',
] as const;

type RequestLabelName = (typeof REQUEST_LABELS)[number];
type TcpLabelName = (typeof TCP_LABELS)[number];

export interface ProxyMetricsOptions {
  /** Istio's `reporter`: 'source' for the outbound proxy, 'destination' for the inbound one. */
  reporter: 'source' | 'destination';
  /**
   * Istio's `connection_security_policy`: 'mutual_tls' where the proxy verified the peer (the
   * HBONE inbound side), 'unknown' where the proxy cannot vouch for every connection (the
   * outbound side carries plaintext to pods outside the mesh too).
   */
  connectionSecurityPolicy?: string;
}

/** The metric objects, shared by the ProxyMetrics of every reporter of one registry. */
type Instruments = Pick<
  ProxyMetrics,
  'requests' | 'requestDuration' | 'tcpOpened' | 'tcpClosed' | 'tcpSent' | 'tcpReceived' | 'rejectedConnections' | 'collectHooks'
>;

interface RequestChildren {
  readonly requests: CounterCell;
  readonly duration: HistogramCell;
}

/** The metric children of one (source, destination) pair; obtained from ProxyMetrics.traffic(). */
export class TrafficMetrics {
  private readonly byStatus = new Map<number, RequestChildren>();
  private readonly opened: CounterCell;
  private readonly closed: CounterCell;
  private readonly sent: CounterCell;
  private readonly received: CounterCell;

  constructor(
    private readonly owner: ProxyMetrics,
    private readonly source: SourceLabels,
    private readonly destination: DestinationLabels,
  ) {
    const tcp = owner.tcpLabelValues(source, destination);
    this.opened = owner.tcpOpened.cell(tcp);
    this.closed = owner.tcpClosed.cell(tcp);
    this.sent = owner.tcpSent.cell(tcp);
    this.received = owner.tcpReceived.cell(tcp);
  }

  /** One finished HTTP request: the status sent to the client (also the proxy's own errors). */
  recordRequest(statusCode: number, durationSeconds: number): void {
    let children = this.byStatus.get(statusCode);
    if (children === undefined) {
      children = this.owner.requestChildren(this.source, this.destination, statusCode);
      this.byStatus.set(statusCode, children);
    }
    children.requests.inc();
    children.duration.observe(durationSeconds);
  }

  connectionOpened(): void {
    this.opened.inc();
  }

  connectionClosed(): void {
    this.closed.inc();
  }

  /** Bytes since the last call: sent = written to the client, received = read from the client. */
  addBytes(sentBytes: number, receivedBytes: number): void {
    if (sentBytes > 0) this.sent.inc(sentBytes);
    if (receivedBytes > 0) this.received.inc(receivedBytes);
  }
}

export class ProxyMetrics {
  readonly requests: CounterCells<RequestLabelName>;
  readonly requestDuration: HistogramCells<RequestLabelName>;
  readonly tcpOpened: CounterCells<TcpLabelName>;
  readonly tcpClosed: CounterCells<TcpLabelName>;
  readonly tcpSent: CounterCells<TcpLabelName>;
  readonly tcpReceived: CounterCells<TcpLabelName>;
  /** Connections the proxy refused before proxying anything, by error code (a fixed set). */
  readonly rejectedConnections: Counter<'reporter' | 'reason'>;

  private readonly reporter: string;
  private readonly securityPolicy: string;
  private readonly pairs = new WeakMap<SourceLabels, WeakMap<DestinationLabels, TrafficMetrics>>();
  /** @internal shared with the ProxyMetrics of another reporter */
  readonly collectHooks: Array<() => void>;

  /**
   * Registers the metrics in `registry`, or, given another ProxyMetrics, reports into the same
   * metrics under another reporter (one node serves both sides: outbound and HBONE inbound).
   */
  constructor(target: Registry | ProxyMetrics, options: ProxyMetricsOptions) {
    this.reporter = options.reporter;
    this.securityPolicy = options.connectionSecurityPolicy ?? UNKNOWN_LABEL;
    const instruments = target instanceof ProxyMetrics ? target : registerInstruments(target);
    this.requests = instruments.requests;
    this.requestDuration = instruments.requestDuration;
    this.tcpOpened = instruments.tcpOpened;
    this.tcpClosed = instruments.tcpClosed;
    this.tcpSent = instruments.tcpSent;
    this.tcpReceived = instruments.tcpReceived;
    this.rejectedConnections = instruments.rejectedConnections;
    this.collectHooks = instruments.collectHooks;
  }

  /** The cached metric children for a (source, destination) pair of label objects. */
  traffic(source: SourceLabels, destination: DestinationLabels): TrafficMetrics {
    let byDestination = this.pairs.get(source);
    if (byDestination === undefined) {
      byDestination = new WeakMap();
      this.pairs.set(source, byDestination);
    }
    let traffic = byDestination.get(destination);
    if (traffic === undefined) {
      traffic = new TrafficMetrics(this, source, destination);
      byDestination.set(destination, traffic);
    }
    return traffic;
  }

  rejectConnection(reason: string): void {
    this.rejectedConnections.labels(this.reporter, reason).inc();
  }

  /** Called at every scrape before the byte counters are rendered (e.g. to flush open connections). */
  addCollectHook(hook: () => void): void {
    this.collectHooks.push(hook);
  }

  removeCollectHook(hook: () => void): void {
    const index = this.collectHooks.indexOf(hook);
    if (index >= 0) this.collectHooks.splice(index, 1);
  }

  /** @internal used by TrafficMetrics */
  tcpLabelValues(source: SourceLabels, destination: DestinationLabels): Record<TcpLabelName, string> {
    return {
      reporter: this.reporter,
      source_workload: source.workload,
      source_namespace: source.namespace,
      source_principal: source.principal,
      destination_service: destination.service,
      destination_workload: destination.workload,
      destination_namespace: destination.namespace,
      connection_security_policy: this.securityPolicy,
    };
  }

  /** @internal used by TrafficMetrics */
  requestChildren(source: SourceLabels, destination: DestinationLabels, statusCode: number): RequestChildren {
    const labels: Record<RequestLabelName, string> = {
      reporter: this.reporter,
      source_workload: source.workload,
      source_namespace: source.namespace,
      source_principal: source.principal,
      destination_service: destination.service,
      destination_workload: destination.workload,
      destination_namespace: destination.namespace,
      response_code: String(statusCode),
      request_protocol: 'http',
      grpc_response_status: '',
      connection_security_policy: this.securityPolicy,
    };
    return { requests: this.requests.cell(labels), duration: this.requestDuration.cell(labels) };
  }

}

function registerInstruments(registry: Registry): Instruments {
  const collectHooks: Array<() => void> = [];
  const runCollectHooks = () => {
  for (const hook of collectHooks) hook();
  };
  const requests = new CounterCells({
    name: 'weft_requests_total',
    help: 'HTTP requests proxied, by source and destination workload and response code',
    labelNames: REQUEST_LABELS,
    registers: [registry],
  });
  const requestDuration = new HistogramCells({
    name: 'weft_request_duration_seconds',
    help: 'Time from the start of an HTTP request to the end of its response, as seen by the proxy',
    labelNames: REQUEST_LABELS,
    buckets: REQUEST_DURATION_BUCKETS_SECONDS,
    registers: [registry],
  });
  const tcpOpened = new CounterCells({
    name: 'weft_tcp_connections_opened_total',
    help: 'Client connections accepted and proxied (HTTP and opaque TCP alike)',
    labelNames: TCP_LABELS,
    registers: [registry],
  });
  const tcpClosed = new CounterCells({
    name: 'weft_tcp_connections_closed_total',
    help: 'Proxied client connections that have closed',
    labelNames: TCP_LABELS,
    registers: [registry],
  });
  // Byte counters of open connections are brought up to date at scrape time by the hooks,
  // so long-lived connections show progress without per-chunk work on the data path.
  const tcpSent = new CounterCells({
    name: 'weft_tcp_sent_bytes_total',
    help: 'Bytes the proxy wrote to its clients (the response direction)',
    labelNames: TCP_LABELS,
    registers: [registry],
    collect: runCollectHooks,
  });
  const tcpReceived = new CounterCells({
    name: 'weft_tcp_received_bytes_total',
    help: 'Bytes the proxy read from its clients (the request direction)',
    labelNames: TCP_LABELS,
    registers: [registry],
    collect: runCollectHooks,
  });
  const rejectedConnections = new Counter({
    name: 'weft_proxy_rejected_connections_total',
    help: 'Connections closed before anything was proxied, by error code (see docs/errors.md)',
    labelNames: ['reporter', 'reason'],
    registers: [registry],
  });
  return { requests, requestDuration, tcpOpened, tcpClosed, tcpSent, tcpReceived, rejectedConnections, collectHooks };
}

