import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResyncCoordinator, WATERMARK_TABLE } from '../../src/backfill/resync-coordinator';
import type { SourceTable } from '../../src/backfill/source-table';
import {
  type ColumnDef,
  ColumnType,
  type RowChange,
  type RowImage,
  type TableSchema,
} from '../../src/binlog/types';
import type { ResyncRequestRow } from '../../src/connectors/mysql/backfill/progress-store';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { compileMapper } from '../../src/pipeline/mapping/mapper';

const col = (name: string, type: number): ColumnDef => ({
  name,
  type,
  meta: 0,
  nullable: false,
  unsigned: false,
});

const items: TableSchema = {
  tableId: 1n,
  schema: 'shop',
  table: 'items',
  columns: [col('id', ColumnType.LONGLONG), col('v', ColumnType.LONG)],
  primaryKey: [0],
};
const watermarks: TableSchema = {
  tableId: 2n,
  schema: 'otterflow',
  table: WATERMARK_TABLE,
  columns: [
    col('pipeline', ColumnType.VARCHAR),
    col('token', ColumnType.STRING),
    col('kind', ColumnType.VARCHAR),
    col('written_at_ms', ColumnType.LONGLONG),
  ],
  primaryKey: [0],
};
const table: SourceTable = {
  ref: { schema: 'shop', table: 'items' },
  schema: items,
  keyColumns: ['id'],
  keyOrdinals: [0],
  estimatedRows: 5,
  averageRowBytes: 0,
};
const request: ResyncRequestRow = {
  requestId: 'r#0',
  backfillId: 'r',
  table: table.ref,
  chunkSize: 5,
  status: 'running',
  keysDone: 0,
  rowsCopied: 0,
  rowsSkipped: 0,
  chunksDone: 0,
  estimatedRows: 5,
};

function coordinator() {
  const config = parsePipelineConfig({
    name: 'p',
    source: 's',
    target: 't',
    mappings: [{ source: { schema: 'shop', table: 'items' }, target: { schema: 'copy' } }],
  });
  const unused = { kind: 'mysql', name: 'x', host: '', port: 0, user: '' } as never;
  return new ResyncCoordinator({
    pipeline: 'p',
    source: unused,
    openTarget: () => Promise.reject(new Error('no target in this test')),
    mapper: compileMapper(config),
  });
}

const mark = (token: string, kind: string, pipeline = 'p'): RowChange => ({
  kind: 'update',
  table: watermarks,
  before: ['p', 'old', 'high', 1n],
  after: [pipeline, token, kind, 2n],
});
const upd = (id: bigint, v: number): RowChange => ({
  kind: 'update',
  table: items,
  before: [id, 0],
  after: [id, v],
});

test('DBLog window: keys changed between LOW and HIGH are dropped from the chunk; the rest is handed over at HIGH', () => {
  const c = coordinator();
  const rows: RowImage[] = [1n, 2n, 3n, 4n, 5n].map((id) => [id, 100]);
  c.acceptChunk('T', request, table, rows, { keysDone: 0, finished: true, lastKey: [5n] });

  // Before LOW: changes are older than the SELECT; the chunk keeps its (newer) rows.
  assert.deepEqual(c.onRow(upd(2n, 1)), []);
  // Another pipeline's and another run's watermarks are ignored.
  assert.deepEqual(c.onRow(mark('T', 'low', 'other')), []);
  assert.deepEqual(c.onRow(mark('OLD', 'low')), []);
  assert.deepEqual(c.onRow(mark('T', 'high')), [], 'HIGH before LOW hands nothing over');
  assert.equal(c.wantsCommit(), false);

  c.onRow(mark('T', 'low'));
  c.onRow(upd(3n, 7)); // newer than the chunk row: the stream's version wins
  c.onRow({ kind: 'delete', table: items, before: [4n, 100] }); // must not come back
  c.onRow({ kind: 'insert', table: items, after: [9n, 1] }); // not in the chunk
  c.onRow({ kind: 'update', table: items, before: [10n, 1], after: [1n, 1] }); // key change INTO 1
  c.onRow({ kind: 'update', table: { ...items, table: 'other' }, before: [5n, 0], after: [5n, 1] });

  const handed = c.onRow(mark('T', 'high'));
  assert.deepEqual(
    handed.map((m) => (m.kind === 'insert' ? [m.target.schema, m.target.table, m.after.get('id')] : m.kind)),
    [
      ['copy', 'items', 2n],
      ['copy', 'items', 5n],
    ],
  );
  assert.equal(c.wantsCommit(), true);
  assert.deepEqual(c.pendingProgress(), {
    requestId: 'r#0',
    lastKey: '[{"b":"5"}]',
    keysDone: 0,
    rows: 2,
    skipped: 3,
    finished: true,
  });
  // After HIGH the chunk is gone: later changes pass untouched and nothing more is handed over.
  assert.deepEqual(c.onRow(mark('T', 'high')), []);
  c.afterCommit({ position: { file: 'b.000001', pos: 4 }, wantedBy: new Set([c]) });
  assert.equal(c.wantsCommit(), false);
});
