import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergePipelineStatus, type WorkflowSummary } from '../../src/service/pipeline-status';
import { type PipelineStatus, zeroCounters } from '../../src/workflows/pipeline-contract';

const running: WorkflowSummary = {
  workflowId: 'pipeline:p',
  runId: 'r1',
  status: 'RUNNING',
  startTime: '2024-01-01T00:00:00.000Z',
  taskQueue: 'q',
};

function queried(over: Partial<PipelineStatus> = {}): PipelineStatus {
  return {
    name: 'p',
    state: 'running',
    configVersion: 2,
    position: { file: 'mysql-bin.000001', pos: 1000 },
    lagMs: 900,
    rowsPerSecond: 10,
    counters: { ...zeroCounters(), rowsApplied: 500, transactions: 50 },
    warnings: ['table x has no key'],
    worker: 'old-worker',
    startedAt: '2024-01-01T00:00:00.000Z',
    updatedAt: '2024-01-01T00:01:00.000Z',
    ...over,
  };
}

test('status: never started', () => {
  const v = mergePipelineStatus('p', undefined, undefined, undefined);
  assert.equal(v.state, 'not started');
  assert.equal(v.workflow, null);
  assert.equal(v.rowsApplied, 0);
});

test('status: committed counters plus the running activity heartbeat', () => {
  const v = mergePipelineStatus('p', running, queried(), {
    attempt: 1,
    lastStartedTime: '2024-01-01T00:01:00.000Z',
    lastHeartbeatTime: '2024-01-01T00:01:10.000Z',
    progress: {
      position: { file: 'mysql-bin.000001', pos: 5000 },
      rowsApplied: 200,
      transactions: 20,
      lagMs: 40,
      at: '2024-01-01T00:01:10.000Z',
      worker: 'w2',
    },
  });
  assert.equal(v.state, 'running');
  assert.equal(v.rowsApplied, 700);
  assert.equal(v.transactions, 70);
  assert.deepEqual(v.position, { file: 'mysql-bin.000001', pos: 5000 });
  assert.equal(v.lagMs, 40);
  assert.equal(v.rowsPerSecond, 20, '200 rows in the 10 s since the run started');
  assert.equal(v.worker, 'w2');
  assert.equal(v.configVersion, 2);
  assert.deepEqual(v.warnings, ['table x has no key']);
  assert.equal(v.activity?.attempt, 1);
  assert.equal(v.lastError, undefined);
});

test('status: a retrying activity shows its last failure; a failed workflow its own error', () => {
  const retrying = mergePipelineStatus('p', running, queried(), {
    attempt: 4,
    lastFailure: 'connect ECONNREFUSED 127.0.0.1:3306',
    lastWorkerIdentity: 'w3',
  });
  assert.deepEqual(retrying.lastError, { message: 'connect ECONNREFUSED 127.0.0.1:3306', retryable: true });
  assert.equal(retrying.worker, 'w3');
  assert.equal(retrying.rowsPerSecond, 10, 'no heartbeat: the last completed run');
  const failed = mergePipelineStatus(
    'p',
    running,
    queried({
      state: 'failed',
      lastError: { message: 'DDL refused', at: 't', retryable: false, where: 'f:4' },
    }),
    undefined,
  );
  assert.equal(failed.state, 'failed');
  assert.equal(failed.lastError?.where, 'f:4');
});

test('status: closed workflows without a query answer', () => {
  assert.equal(
    mergePipelineStatus('p', { ...running, status: 'COMPLETED' }, undefined, undefined).state,
    'stopped',
  );
  assert.equal(
    mergePipelineStatus('p', { ...running, status: 'TERMINATED' }, undefined, undefined).state,
    'ended',
  );
});
