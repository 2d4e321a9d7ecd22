import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import oracledb from 'oracledb';
import type { CellValue } from '../../src/binlog/types';
import type { ResolvedDatasource } from '../../src/config/datasources';
import type { UpsertOp } from '../../src/connectors/dialect';
import { OracleApplier } from '../../src/connectors/oracle/applier';
import { OracleBackfillSql } from '../../src/connectors/oracle/backfill/progress-sql';
import { openOracle } from '../../src/connectors/oracle/connection';
import { OracleTargetConnector } from '../../src/connectors/oracle/target-session';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { compileMapper } from '../../src/pipeline/mapping/mapper';
import { replicate } from '../../src/replication/replicator';
import { samePipelineConfig } from '../helpers/pipeline';
import { oracleError, RecordingOracleDatabase } from '../helpers/recording-oracle';
import { freshDatabases, testStack } from '../helpers/stack';

/**
 * Runs against a real Oracle database only when ORACLE_URL is set, e.g.
 *   ORACLE_URL='oracle://otter:otter@127.0.0.1:1521/FREEPDB1'
 * (thin mode: no Instant Client needed; docs/oracle.md shows how to start Oracle Database Free in a
 * container). The user needs CREATE SESSION, CREATE TABLE and quota in its own schema, where the
 * tests create and drop their tables. The engine scenarios are those of oracle-engine.test.ts, and the
 * backfill's those of oracle-backfill.test.ts, with the recording connection in front of the real one.
 */
const url = process.env.ORACLE_URL;
const SKIPPED = 'ORACLE_URL not set: Oracle integration test skipped (see docs/oracle.md)';
if (!url) console.log(`# ${SKIPPED}`);

function oracleDatasource(u: string): ResolvedDatasource {
  const p = new URL(u);
  return {
    name: 'ora',
    kind: 'oracle',
    host: p.hostname,
    port: Number(p.port || 1521),
    user: decodeURIComponent(p.username),
    password: decodeURIComponent(p.password),
    serviceName: p.pathname.replace(/^\//, ''),
  };
}

async function adminConnection(t: TestContext, ds: ResolvedDatasource) {
  const conn = await openOracle(ds);
  t.after(() => conn.close().catch(() => {}));
  return conn;
}

test('Oracle applier: MERGE, UPDATE, DELETE and missing rows on a real Oracle', async (t) => {
  if (!url) return t.skip(SKIPPED);
  const ds = oracleDatasource(url);
  const conn = await adminConnection(t, ds);
  const table = `OTF_${randomBytes(4).toString('hex').toUpperCase()}`;
  t.after(() => conn.execute(`DROP TABLE "${table}" PURGE`).catch(() => {}));
  await conn.execute(
    `CREATE TABLE "${table}" (id NUMBER(20) PRIMARY KEY, name VARCHAR2(100), amount NUMBER(38,10), ` +
      'created DATE, ts TIMESTAMP(6), dur INTERVAL DAY(2) TO SECOND(6), raw RAW(256), doc BLOB)',
  );
  // Default identifier case: pipeline names in lower case reach Oracle's upper-case catalog names.
  const target = { schema: ds.user.toLowerCase(), table: table.toLowerCase() };
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const up = (id: bigint, row: Record<string, CellValue>, expectExisting = false): UpsertOp => ({
    kind: 'upsert',
    target,
    key: [id],
    row: new Map(Object.entries({ id, ...row })),
    expectExisting,
  });
  const applier = new OracleApplier(conn);
  await applier.prepareSession();
  const r1 = await applier.apply({
    tables: [
      {
        target,
        deletes: [],
        upserts: [
          up(18446744073709551615n, {
            name: 'Zoë 😀',
            amount: '-1234567890123456789012345678.1234567890',
            created: '2024-02-29',
            ts: '2038-01-19 03:14:07.999999',
            dur: '-838:59:59.000000',
            raw: all,
            doc: Buffer.concat([all, all]),
          }),
          up(2n, { name: 'two' }),
        ],
      },
    ],
  });
  await conn.commit();
  assert.equal(r1.stats.inserted, 2);
  const r2 = await applier.apply({
    tables: [
      {
        target,
        deletes: [
          { kind: 'delete', target, key: [2n], before: new Map() },
          { kind: 'delete', target, key: [99n], before: new Map() },
        ],
        upserts: [up(18446744073709551615n, { name: 'renamed' }, true), up(77n, { name: '' }, true)],
      },
    ],
  });
  await conn.commit();
  assert.deepEqual(r2.stats, { inserted: 1, updated: 1, deleted: 1, missingOnUpdate: 1, missingOnDelete: 1 });
  assert.equal(r2.tally.total, 1, "'' stored as NULL is counted");
  const res = await conn.execute<Record<string, unknown>>(
    `SELECT TO_CHAR(id) id, name, TO_CHAR(amount) amount, TO_CHAR(created, 'YYYY-MM-DD') created, ` +
      `TO_CHAR(ts, 'YYYY-MM-DD HH24:MI:SS.FF6') ts, TO_CHAR(dur) dur, RAWTOHEX(raw) raw, DBMS_LOB.GETLENGTH(doc) doclen ` +
      `FROM "${table}" ORDER BY id`,
    [],
    { outFormat: oracledb.OUT_FORMAT_OBJECT },
  );
  const rows = res.rows ?? [];
  assert.equal(rows.length, 2);
  const big = rows.find((r) => r.ID === '18446744073709551615')!;
  assert.equal(big.NAME, 'renamed');
  assert.equal(big.AMOUNT, '-1234567890123456789012345678.123456789');
  assert.equal(big.CREATED, '2024-02-29');
  assert.equal(big.TS, '2038-01-19 03:14:07.999999');
  assert.equal(big.RAW, all.toString('hex').toUpperCase());
  assert.equal(big.DOCLEN, 512);
  assert.equal(rows.find((r) => r.ID === '77')?.NAME, null);
});

/** A source database and the same tables in the Oracle user's schema; a pipeline between them. */
async function enginePair(t: TestContext, ds: ResolvedDatasource) {
  const admin = await adminConnection(t, ds);
  const { name: db, source } = await freshDatabases(t, 'ora');
  const suffix = randomBytes(3).toString('hex');
  const items = `items_${suffix}`;
  await source.query(
    `CREATE TABLE ${items} (id INT PRIMARY KEY, name VARCHAR(50), amount DECIMAL(10,2), note VARCHAR(20), seen DATETIME(6))`,
  );
  const ITEMS = items.toUpperCase();
  await admin.execute(
    `CREATE TABLE "${ITEMS}" (id NUMBER(10) PRIMARY KEY, name VARCHAR2(50), amount NUMBER(10,2), note VARCHAR2(20), seen TIMESTAMP(6))`,
  );
  t.after(() => admin.execute(`DROP TABLE "${ITEMS}" PURGE`).catch(() => {}));
  const config = parsePipelineConfig(
    await samePipelineConfig(source, db, {
      target: ds.name,
      mappings: [{ source: { schema: db, table: items }, target: { schema: ds.user.toLowerCase() } }],
    }),
  );
  t.after(() =>
    admin
      .execute('DELETE FROM "OTTERFLOW_CHECKPOINTS" WHERE pipeline = :1', [config.name])
      .then(() => admin.commit())
      .catch(() => {}),
  );
  const rdb = new RecordingOracleDatabase();
  const stack = testStack();
  const run = (signal?: AbortSignal) =>
    replicate({
      config,
      source: {
        name: 'source',
        kind: 'mariadb',
        host: stack.host,
        port: stack.sourcePort,
        user: 'root',
        password: '',
      },
      target: ds,
      maxSeconds: 3,
      worker: 'test',
      targetConnector: new OracleTargetConnector(async (d) => rdb.connectTo(await openOracle(d))),
      ...(signal ? { signal } : {}),
    });
  const ids = async () =>
    ((await admin.execute<[number]>(`SELECT id FROM "${ITEMS}" ORDER BY id`)).rows ?? []).map((r) =>
      Number(r[0]),
    );
  return { source, items, ITEMS, config, rdb, run, ids, admin };
}

test('engine on a real Oracle: rows, the checkpoint in the same transaction, a batch failing halfway, a worker dying mid-batch', async (t) => {
  if (!url) return t.skip(SKIPPED);
  const ds = oracleDatasource(url);
  const { source, items, ITEMS, config, rdb, run, ids, admin } = await enginePair(t, ds);
  const checkpoint = async () =>
    Number(
      (
        await admin.execute<[number]>('SELECT binlog_pos FROM "OTTERFLOW_CHECKPOINTS" WHERE pipeline = :1', [
          config.name,
        ])
      ).rows?.[0]?.[0],
    );

  await source.query(
    `INSERT INTO ${items} VALUES (1, 'Zoë', 12.50, 'x', '2024-02-29 23:59:59.123456'), (2, 'two', -0.01, '', NULL)`,
  );
  const first = await run();
  assert.equal(first.inserted, 2);
  assert.equal(first.emptyAsNull, 1);
  assert.deepEqual(await ids(), [1, 2]);
  assert.equal(await checkpoint(), first.position?.pos);
  const row = (
    await admin.execute<Record<string, unknown>>(
      `SELECT name, TO_CHAR(amount) amount, note, TO_CHAR(seen, 'YYYY-MM-DD HH24:MI:SS.FF6') seen FROM "${ITEMS}" WHERE id = 1`,
      [],
      { outFormat: oracledb.OUT_FORMAT_OBJECT },
    )
  ).rows?.[0];
  assert.deepEqual(row, { NAME: 'Zoë', AMOUNT: '12.5', NOTE: 'x', SEEN: '2024-02-29 23:59:59.123456' });

  // A batch failing halfway (the connection breaks after its rows were sent): nothing of it stays.
  const before = await checkpoint();
  await source.query(`INSERT INTO ${items} (id, name) VALUES (10, 'a'), (11, 'b')`);
  const mark = rdb.calls.length;
  rdb.failWhen(
    (c) => c.method === 'commit' && rdb.calls.some((x) => x.method === 'executeMany' && x.n > mark),
    oracleError('ORA-03113'),
  );
  await assert.rejects(run(), /ORA-03113/);
  assert.deepEqual(await ids(), [1, 2]);
  assert.equal(await checkpoint(), before);
  await run();
  assert.deepEqual(await ids(), [1, 2, 10, 11]);

  // A worker dying mid-batch: aborted while its rows are on the wire; the next run applies them once.
  const mid = await checkpoint();
  await source.query(`INSERT INTO ${items} (id, name) VALUES (20, 'x'), (21, 'y')`);
  const abort = new AbortController();
  rdb.failWhen((c) => {
    if (c.method !== 'executeMany') return false;
    abort.abort();
    return true;
  }, oracleError('ORA-03135'));
  await assert.rejects(run(abort.signal), /ORA-03135/);
  assert.deepEqual(await ids(), [1, 2, 10, 11]);
  assert.equal(await checkpoint(), mid);
  await run();
  assert.deepEqual(await ids(), [1, 2, 10, 11, 20, 21]);
});

test('backfill on a real Oracle: plan, a chunk failing halfway rolled back and copied again, re-sync progress in the batch transaction', async (t) => {
  if (!url) return t.skip(SKIPPED);
  const ds = oracleDatasource(url);
  const { source, items, config, rdb, ids, admin } = await enginePair(t, ds);
  const sql = new OracleBackfillSql();
  const backfillId = `${config.name}.initial-test`;
  t.after(async () => {
    for (const [table, column] of [
      [sql.chunks, 'backfill_id'],
      [sql.backfills, 'backfill_id'],
      [sql.requests, 'pipeline'],
    ] as const)
      await admin
        .execute(`DELETE FROM ${table} WHERE ${column} = :1`, [
          column === 'pipeline' ? config.name : backfillId,
        ])
        .catch(() => {});
    await admin.commit().catch(() => {});
  });
  await source.query(`INSERT INTO ${items} (id, name) SELECT seq, CONCAT('n', seq) FROM seq_1_to_300`);
  const stack = testStack();
  const src: ResolvedDatasource = {
    name: 'source',
    kind: 'mariadb',
    host: stack.host,
    port: stack.sourcePort,
    user: 'root',
    password: '',
  };
  const connector = new OracleTargetConnector(async (d) => rdb.connectTo(await openOracle(d)));
  const backfill = connector.backfill;
  const store = await backfill.openStore(ds);
  t.after(() => store.close());
  const table = { schema: config.mappings[0]!.source.schema as string, table: items };
  const plan = await store.storePlan(
    backfillId,
    config.name,
    [{ table, chunks: [{ upTo: [150] }, { after: [150] }] }],
    300,
    { file: 'bin.000001', pos: 4 },
  );
  assert.deepEqual(plan, { chunks: 2, tables: 1, estimatedRows: 300 });
  assert.deepEqual(await store.pendingChunks(backfillId), [0, 1]);

  const copier = await backfill.openCopier(src, ds, compileMapper(config, new Map()), config);
  t.after(() => copier.close());
  // Chunk 0 fails after its rows were written, before its progress row: nothing of it stays.
  rdb.failWhen((c) => c.sql === sql.markChunkDone(), oracleError('ORA-03113'));
  await assert.rejects(copier.copy(backfillId, 0), /ORA-03113/);
  assert.deepEqual(await ids(), []);
  assert.deepEqual(await store.pendingChunks(backfillId), [0, 1]);
  assert.deepEqual(await copier.copy(backfillId, 0), { rows: 150, written: 150, skipped: false });
  assert.deepEqual(await copier.copy(backfillId, 1), { rows: 150, written: 150, skipped: false });
  assert.deepEqual(await copier.copy(backfillId, 1), { rows: 0, written: 0, skipped: true });
  assert.deepEqual(await store.pendingChunks(backfillId), []);
  assert.deepEqual(
    await ids(),
    Array.from({ length: 300 }, (_, i) => i + 1),
  );

  // Re-sync requests: the session finds the pipeline's request; progress commits only with its transaction.
  await store.insertResyncRequests([
    {
      requestId: `${backfillId}.r0`,
      backfillId: `${backfillId}.rs`,
      pipeline: config.name,
      seq: 0,
      table,
      keysJson: '[[1],[2]]',
      chunkSize: 100,
      estimatedRows: 2,
    },
  ]);
  const session = await connector.open(ds, { pipeline: config.name });
  t.after(() => session.close());
  const request = await session.resyncRequests.next();
  assert.equal(request?.keysJson, '[[1],[2]]');
  await session.begin();
  await session.resyncRequests.recordChunk({
    requestId: `${backfillId}.r0`,
    lastKey: '[2]',
    keysDone: 2,
    rows: 2,
    skipped: 0,
    finished: true,
  });
  await session.rollback();
  assert.equal((await store.resyncRequestsOf(`${backfillId}.rs`))[0]?.status, 'pending');
  await session.begin();
  await session.resyncRequests.recordChunk({
    requestId: `${backfillId}.r0`,
    lastKey: '[2]',
    keysDone: 2,
    rows: 2,
    skipped: 0,
    finished: true,
  });
  await session.commit();
  const done = (await store.resyncRequestsOf(`${backfillId}.rs`))[0];
  assert.deepEqual([done?.status, done?.lastKey, done?.rowsCopied], ['done', '[2]', 2]);
  assert.equal(await session.resyncRequests.next(), undefined);
});

test('verification report and target session on a real Oracle: tables created once, plan, chunk with differences, report, repair marks; columns, key and deletes by key', async (t) => {
  if (!url) return t.skip(SKIPPED);
  const ds = oracleDatasource(url);
  const conn = await adminConnection(t, ds);
  const table = `OTF_${randomBytes(4).toString('hex').toUpperCase()}`;
  t.after(() => conn.execute(`DROP TABLE "${table}" PURGE`).catch(() => {}));
  await conn.execute(`CREATE TABLE "${table}" (id NUMBER(10) PRIMARY KEY, name VARCHAR2(40))`);
  await conn.executeMany(`INSERT INTO "${table}" VALUES (:1, :2)`, [
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
  ]);
  await conn.commit();
  const rdb = new RecordingOracleDatabase();
  const connector = new OracleTargetConnector(async (d) => rdb.connectTo(await openOracle(d)));
  const pipeline = `p${randomBytes(4).toString('hex')}`;
  const v = await connector.verification.open(ds, pipeline);
  t.after(() => v.close());
  const ref = { schema: ds.user.toLowerCase(), table: table.toLowerCase() };
  const id = `${pipeline}.verify-1`;

  assert.equal(await v.appliedPosition(), undefined, 'a pipeline that never ran here');
  assert.deepEqual(await v.tableColumns(ref), {
    ref,
    columns: [
      { name: 'id', dataType: 'number(10,0)', charset: null, nullable: true },
      { name: 'name', dataType: 'varchar2', charset: null, nullable: true },
    ],
    keyColumns: ['id'],
  });
  await v.beginVerification(id, pipeline, { where: 'id > 0' });
  await v.beginVerification(id, pipeline, {});
  assert.deepEqual(await v.readRequest(id), { where: 'id > 0' });
  await v.storeChunks(id, [
    { table: ref, sources: [ref], keyColumns: ['id'], upTo: [2] },
    { table: ref, sources: [ref], keyColumns: ['id'], after: [2] },
  ]);
  assert.deepEqual(await v.pendingChunks(id), { pending: [0, 1], total: 2 });
  const chunk = (await v.readStoredChunk(id, 1))!;
  assert.deepEqual(chunk.after, [2]);
  await v.recordChunk(id, chunk, { rowsSource: 2, rowsTarget: 1, unsettled: 0 }, [
    { key: [3], kind: 'different', columns: ['name'] },
    { key: [4], kind: 'missing', columns: [] },
  ]);
  await v.markRepair(id, [{ chunkNo: 1, seq: 1, repaired: true }]);
  await v.finishVerification(id, 'done');
  const report = await v.readReport(id);
  assert.equal(report?.state, 'done');
  assert.deepEqual(
    report?.tables.map((x) => [x.chunks, x.chunksDone, x.rowsSource, x.rowsTarget, x.missing, x.different]),
    [[2, 1, 2, 1, 1, 1]],
  );
  assert.match(report?.finishedAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  const page = await v.readDifferences(id, 1, 10);
  assert.deepEqual(
    page.differences.map((d) => [d.key, d.kind, d.repair]),
    [[[4], 'missing', 'repaired']],
  );
  assert.equal(page.total, 2);

  assert.equal(await v.deleteKeys(ref, ['id'], [[2], [3], [9]]), 2);
  const left = await conn.execute<[number]>(`SELECT id FROM "${table}" ORDER BY id`, [], {
    outFormat: oracledb.OUT_FORMAT_ARRAY,
  });
  assert.deepEqual(left.rows, [[1]]);
});
