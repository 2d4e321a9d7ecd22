import assert from 'node:assert/strict';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type mysql from 'mysql2/promise';
import { type BackfillInput, backfillWorkflowId } from '../../src/backfill/contract';
import { readServerBinlogState } from '../../src/binlog/replica/server-state';
import { type PipelineConfigInput, parsePipelineConfig } from '../../src/pipeline/config';
import type { pipelineWorkflow } from '../../src/workflows/pipeline';
import {
  type PipelineStatus,
  type PipelineTuning,
  pipelineWorkflowId,
  statusQuery,
} from '../../src/workflows/pipeline-contract';
import { uniqueName } from './stack';

/** A pipeline config replicating every table of `db` on the local source to the same names on the target. */
export async function samePipelineConfig(
  source: mysql.Connection,
  db: string,
  overrides: Partial<PipelineConfigInput> = {},
): Promise<PipelineConfigInput> {
  const start = await readServerBinlogState(source);
  return {
    name: uniqueName('p'),
    source: 'source',
    target: 'target',
    mappings: [{ source: { schema: db, table: '/.*/' } }],
    start: { file: start.file, pos: start.pos },
    ...overrides,
  };
}

export async function startPipeline(
  client: Client,
  taskQueue: string,
  input: PipelineConfigInput,
  tuning?: PipelineTuning,
): Promise<WorkflowHandle<typeof pipelineWorkflow>> {
  const config = parsePipelineConfig(input);
  return client.workflow.start('pipelineWorkflow', {
    taskQueue,
    workflowId: pipelineWorkflowId(config.name),
    args: [{ config, configVersion: 1, ...(tuning ? { tuning } : {}) }],
  }) as Promise<WorkflowHandle<typeof pipelineWorkflow>>;
}

export async function status(handle: WorkflowHandle): Promise<PipelineStatus> {
  return handle.query(statusQuery);
}

/** Polls until `check` returns true (or a value), failing with `describe()` after the timeout. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | false | undefined>,
  timeoutMs = 60_000,
  describe?: () => Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== false && v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const extra = describe ? await describe().catch((e) => String(e)) : '';
  assert.fail(`timed out waiting for ${what}${lastErr ? ` (last error: ${lastErr})` : ''} ${extra}`);
}

/** Column name (quoted) and lower-case data type → the SQL expression that renders it as text. */
type ColumnText = (quotedName: string, dataType: string) => string;

/** One string per row (`|`-joined column texts, NULL as \N), in `orderBy` order. */
async function dumpRows(
  conn: mysql.Connection,
  db: string,
  table: string,
  orderBy: string,
  text: ColumnText,
): Promise<string[]> {
  const [cols] = await conn.query<mysql.RowDataPacket[]>(
    'SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
    [db, table],
  );
  // `1` sorts by every column in table order (not by the whole row text, MBs per row in some tests):
  // deterministic for key-less tables too, where the first column repeats.
  if (orderBy === '1' && cols.length > 0)
    orderBy = cols.map((c) => `\`${String(c.COLUMN_NAME).replace(/`/g, '``')}\``).join(', ');
  const exprs = cols.map((c) =>
    text(`\`${String(c.COLUMN_NAME).replace(/`/g, '``')}\``, String(c.DATA_TYPE).toLowerCase()),
  );
  const [rows] = await conn.query<mysql.RowDataPacket[]>(
    `SELECT CONCAT_WS('|', ${exprs.map((e) => `IFNULL(${e}, '\\\\N')`).join(', ')}) AS r FROM \`${db}\`.\`${table}\` ORDER BY ${orderBy}`,
  );
  return rows.map((r) => String(r.r));
}

/** All rows of a table in key order, as exact text (HEX for binary-ish values), for comparisons. */
export function dumpTable(
  conn: mysql.Connection,
  db: string,
  table: string,
  orderBy = '1',
): Promise<string[]> {
  return dumpRows(conn, db, table, orderBy, (name, t) =>
    /blob|binary|bit|geometry|point|linestring|polygon|^geometrycollection|^multi/.test(t)
      ? `HEX(${name})`
      : `CAST(${name} AS CHAR)`,
  );
}

/** Waits until the target table equals the source table row by row. */
export async function waitForEqualTables(
  source: mysql.Connection,
  target: mysql.Connection,
  db: string,
  table: string,
  handle?: WorkflowHandle,
  timeoutMs = 90_000,
): Promise<void> {
  let last = { s: 0, t: 0 };
  await waitFor(
    `${db}.${table} to be equal on source and target`,
    async () => {
      const [s, t] = await Promise.all([dumpTable(source, db, table), dumpTable(target, db, table)]);
      last = { s: s.length, t: t.length };
      return s.length === t.length && s.every((row, i) => row === t[i]);
    },
    timeoutMs,
    async () =>
      `source rows ${last.s}, target rows ${last.t}; status ${handle ? JSON.stringify(await status(handle)) : ''}`,
  );
}

/**
 * All rows of a table as exact text, one string per row, stronger than `dumpTable`: text columns are
 * compared by their stored bytes (`HEX`), so a charset or collation slip shows; TIMESTAMP by
 * `UNIX_TIMESTAMP` (independent of the session time zone); ENUM/SET by label AND index; geometry by its
 * internal bytes (SRID + WKB). Use it to prove a value survived replication unchanged.
 */
export function dumpTableExact(
  conn: mysql.Connection,
  db: string,
  table: string,
  orderBy = '1',
  /** Columns to leave out of the comparison (shown as `-`), compared some other way by the caller. */
  omit: readonly string[] = [],
): Promise<string[]> {
  const omitted = new Set(omit.map((c) => `\`${c}\``));
  return dumpRows(conn, db, table, orderBy, (name, t) => {
    if (omitted.has(name)) return `'-'`;
    if (t === 'timestamp') return `UNIX_TIMESTAMP(${name})`;
    if (t === 'enum' || t === 'set') return `CONCAT(${name} + 0, ':', HEX(${name}))`;
    if (/char|text|json/.test(t)) return `HEX(${name})`;
    if (/blob|binary|bit|geometry|point|linestring|polygon|collection|vector/.test(t)) return `HEX(${name})`;
    return `CAST(${name} AS CHAR)`;
  });
}

/** Waits until `dumpTableExact` is the same on both sides; returns the rows. */
export async function waitForExactTables(
  source: mysql.Connection,
  target: mysql.Connection,
  db: string,
  table: string,
  handle?: WorkflowHandle,
  timeoutMs = 90_000,
  targetDb = db,
  targetTable = table,
  omit: readonly string[] = [],
): Promise<string[]> {
  let last: { s: string[]; t: string[] } = { s: [], t: [] };
  return waitFor(
    `${db}.${table} to be exactly equal on source and ${targetDb}.${targetTable} on target`,
    async () => {
      const [s, t] = await Promise.all([
        dumpTableExact(source, db, table, '1', omit),
        dumpTableExact(target, targetDb, targetTable, '1', omit),
      ]);
      last = { s, t };
      return s.length === t.length && s.every((row, i) => row === t[i]) ? s : false;
    },
    timeoutMs,
    async () => {
      const diff = last.s.findIndex((row, i) => row !== last.t[i]);
      return `source rows ${last.s.length}, target rows ${last.t.length}; first difference at ${diff}: source ${last.s[diff]} target ${last.t[diff]}; status ${handle ? JSON.stringify(await status(handle)) : ''}`;
    },
  );
}

/** Starts a backfill workflow directly (no API), on the caller's task queue. */
export function startBackfill(client: Client, taskQueue: string, input: BackfillInput) {
  return client.workflow.start('backfillWorkflow', {
    taskQueue,
    workflowId: backfillWorkflowId(input.id),
    args: [input],
  });
}
