// The fixed response body of the benchmark's server: 100 bytes, shared so the benchmark can check
// that what came back is exactly what the server sends.
export const BENCH_BODY = `weft bench ${'0123456789'.repeat(9)}`.slice(0, 99) + '\n';
