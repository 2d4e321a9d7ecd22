/**
 * The same replay through the real pipeline workflow: a private Temporal dev server (port 24810,
 * data under .otterflow/scratch/bench/temporal), a worker in this process with a datasource catalog
 * naming the benchmark servers, the workflow started like the API does, and the clock stopped when
 * the target's checkpoint reaches the end. Shows what Temporal adds (workflow start, activity
 * scheduling, heartbeats) to the data plane.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type mysql from 'mysql2/promise';
import type { BinlogPosition } from '../../src/binlog/types';
import { catalogFile, DatasourceCatalog, type ResolvedDatasource } from '../../src/config/datasources';
import { ensureCheckpointTable } from '../../src/connectors/mysql/checkpoint';
import { stopProcess } from '../../src/devstack/processes';
import { startTemporal, type TemporalDevSpec, temporalRecord } from '../../src/devstack/temporal';
import { findTemporal } from '../../src/devstack/tools';
import { type PipelineConfigInput, parsePipelineConfig } from '../../src/pipeline/config';
import { createWorker } from '../../src/worker/run';
import { installRuntime } from '../../src/worker/runtime';
import { pipelineWorkflowId, stopUpdate } from '../../src/workflows/pipeline-contract';
import { BENCH_SCRATCH } from '../lib/instances';
import { CpuMeter, sleep } from '../lib/measure';
import { reached } from './workloads';

export interface TemporalRunOptions {
  source: ResolvedDatasource;
  target: ResolvedDatasource;
  poller: mysql.Connection;
  mappings: PipelineConfigInput['mappings'];
  start: BinlogPosition;
  end: BinlogPosition;
  options?: PipelineConfigInput['options'];
  timeoutMs: number;
  /** mariadbd pids to account CPU for (e.g. { source, target }). */
  serverPids: Record<string, number>;
  log: (line: string) => void;
}

export async function runThroughTemporal(
  o: TemporalRunOptions,
): Promise<{ seconds: number; startupSeconds: number; cpuSeconds: Record<string, number> }> {
  const binary = findTemporal();
  if (!binary) throw new Error('the temporal CLI is not installed (npm start installs it)');
  const dir = path.join(BENCH_SCRATCH, 'temporal-24810');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const spec: TemporalDevSpec = {
    host: '127.0.0.1',
    port: 24810,
    uiPort: 24811,
    dir,
    runDir: path.join(dir, 'run'),
    namespace: 'default',
  };
  const home = path.join(dir, 'home');
  const catalog = new DatasourceCatalog(catalogFile(home));
  for (const ds of [o.source, o.target]) {
    const { password: _, ...record } = ds;
    catalog.put(record);
  }
  await ensureCheckpointTable(o.poller);
  await startTemporal(spec, binary);
  installRuntime();
  const address = `${spec.host}:${spec.port}`;
  const native = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  try {
    const client = new Client({ connection, namespace: spec.namespace });
    const taskQueue = 'bench-replicate';
    const worker = await createWorker(native, { namespace: spec.namespace, taskQueue, home });
    const name = `bench-temporal-${process.pid}`;
    const config = parsePipelineConfig({
      name,
      source: o.source.name,
      target: o.target.name,
      mappings: o.mappings,
      start: { file: o.start.file, pos: o.start.pos },
      options: o.options ?? {},
    });
    const temporalPid = temporalRecord(spec)?.pid ?? 0;
    const cpu = new CpuMeter({ bench: process.pid, temporal: temporalPid, ...o.serverPids });
    return await worker.runUntil(async () => {
      cpu.start();
      const t0 = Date.now();
      const handle = await client.workflow.start('pipelineWorkflow', {
        taskQueue,
        workflowId: pipelineWorkflowId(name),
        args: [{ config, configVersion: 1 }],
      });
      let startupSeconds = 0;
      const deadline = t0 + o.timeoutMs;
      for (;;) {
        const [rows] = await o.poller.query<mysql.RowDataPacket[]>(
          '/*bench*/ SELECT binlog_file, binlog_pos, batch_seq FROM otterflow.checkpoints WHERE pipeline = ?',
          [name],
        );
        const r = rows[0];
        if (r && !startupSeconds && Number(r.batch_seq) > 0) startupSeconds = (Date.now() - t0) / 1000;
        if (r && reached({ file: String(r.binlog_file), pos: Number(r.binlog_pos) }, o.end)) break;
        if (Date.now() > deadline) throw new Error('the workflow did not reach the end position in time');
        await sleep(10);
      }
      const seconds = (Date.now() - t0) / 1000;
      const cpuSeconds = cpu.stop();
      await handle.executeUpdate(stopUpdate);
      await handle.result();
      return { seconds, startupSeconds, cpuSeconds };
    });
  } finally {
    await connection.close();
    await native.close();
    const rec = temporalRecord(spec);
    if (rec) await stopProcess(rec);
  }
}
