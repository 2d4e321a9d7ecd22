import client from 'prom-client';

/** Prometheus metrics of verifications (prom-client's default registry, served by the worker). */
export const verificationMetrics = {
  rowsCompared: new client.Counter({
    name: 'otterflow_verify_rows_compared_total',
    help: 'Source rows compared with the target by verifications',
    labelNames: ['pipeline'] as const,
  }),
  chunks: new client.Counter({
    name: 'otterflow_verify_chunks_total',
    help: 'Chunks compared, by outcome (equal: checksums matched at once; rechecked: compared row by row)',
    labelNames: ['pipeline', 'outcome'] as const,
  }),
  differences: new client.Counter({
    name: 'otterflow_verify_differences_total',
    help: 'Differences that persisted, by kind (missing, extra, different)',
    labelNames: ['pipeline', 'kind'] as const,
  }),
  decidedByPolicy: new client.Counter({
    name: 'otterflow_verify_decided_by_policy_total',
    help: 'Channels: differing keys that a recorded conflict resolution explains (not differences)',
    labelNames: ['pipeline'] as const,
  }),
};
