-- wrk script for the Weft benchmark: after the run, prints one machine-readable line with exact
-- figures (latencies in microseconds from wrk's own histogram) so nothing is parsed from wrk's
-- rounded human output.
done = function(summary, latency, requests)
  io.write(string.format(
    'WEFT_BENCH_WRK {"requests":%d,"durationUs":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"mean":%.2f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
