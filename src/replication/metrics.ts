import client from 'prom-client';

/**
 * Prometheus metrics of the data plane, labelled by pipeline. They live in prom-client's default
 * registry, which the worker serves at /metrics (src/worker/run.ts).
 */
const labelNames = ['pipeline'] as const;

export const replicationMetrics = {
  rowsApplied: new client.Counter({
    name: 'otterflow_rows_applied_total',
    help: 'Rows written to the target (after per-key merging), by operation',
    labelNames: ['pipeline', 'op'] as const,
  }),
  sourceChanges: new client.Counter({
    name: 'otterflow_source_row_changes_total',
    help: 'Row changes read from the source binlog for mapped tables (before merging)',
    labelNames,
  }),
  transactions: new client.Counter({
    name: 'otterflow_source_transactions_total',
    help: 'Source transactions read',
    labelNames,
  }),
  batches: new client.Counter({
    name: 'otterflow_batches_total',
    help: 'Target transactions committed with rows',
    labelNames,
  }),
  slices: new client.Counter({
    name: 'otterflow_batch_slices_total',
    help: 'Parts of a batch applied before its commit (the batch outgrew batchSize or maxBatchBytes inside a source transaction)',
    labelNames,
  }),
  batchSize: new client.Histogram({
    name: 'otterflow_batch_row_changes',
    help: 'Source row changes per committed batch',
    labelNames,
    buckets: [1, 10, 100, 1000, 6000, 25000, 100000, 250000],
  }),
  lagMs: new client.Gauge({
    name: 'otterflow_lag_milliseconds',
    help: 'Time from the source heartbeat write to its commit on the target',
    labelNames,
  }),
  missingRows: new client.Counter({
    name: 'otterflow_missing_rows_total',
    help: 'UPDATEs or DELETEs whose row was missing on the target',
    labelNames: ['pipeline', 'op'] as const,
  }),
  errors: new client.Counter({
    name: 'otterflow_replicate_errors_total',
    help: 'Replicate runs that ended with an error, by kind (halt = needs a person, retry = retried)',
    labelNames: ['pipeline', 'kind'] as const,
  }),
};
