import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CellValue } from '../../src/binlog/types';
import { mysqlRowCodec } from '../../src/connectors/mysql/canonical';
import type { CanonicalValue, TargetRowAccess, TargetRowsQuery } from '../../src/connectors/target';
import { type MappingConfig, parsePipelineConfig } from '../../src/pipeline/config';
import { verifyChunk } from '../../src/verification/chunk-verifier';
import type { LoadedComparison } from '../../src/verification/planner';
import { WorkerVerifyTarget, waitForApplied } from '../../src/verification/row-digests';
import { BucketSums, keyBucket, rowHash, valueHash } from '../../src/verification/row-hash';
import {
  ComparisonPlanError,
  planTableComparison,
  type TableColumns,
} from '../../src/verification/table-plan';
import { comparedInWorker } from '../../src/verification/worker-sides';

test('row hashes: NULL is not the empty string, values do not run into each other, order matters', () => {
  assert.notEqual(rowHash([null]), rowHash(['']));
  assert.notEqual(rowHash(['a', 'bc']), rowHash(['ab', 'c']));
  assert.notEqual(rowHash(['1', '2']), rowHash(['2', '1']));
  assert.equal(rowHash(['x', null]), rowHash(['x', null]));
  assert.match(rowHash(['x']), /^\d+$/);
  assert.ok(BigInt(rowHash(['x'])) < 2n ** 64n);
  assert.equal(valueHash(null), null);
  assert.equal(valueHash('a'), rowHash(['a']));
});

test('buckets depend on the key alone; bucket sums are order-independent', () => {
  const b = keyBucket(['42'], 64);
  assert.ok(b >= 0 && b < 64);
  assert.equal(keyBucket(['42'], 64), b);
  const spread = new Set(Array.from({ length: 500 }, (_, i) => keyBucket([String(i)], 64)));
  assert.ok(spread.size > 50, `500 keys fall in ${spread.size} of 64 buckets`);
  const rows = Array.from({ length: 20 }, (_, i) => ({
    b: keyBucket([String(i)], 8),
    h: rowHash([String(i)]),
  }));
  const one = new BucketSums();
  const other = new BucketSums();
  for (const r of rows) one.add(r.b, r.h);
  for (const r of [...rows].reverse()) other.add(r.b, r.h);
  assert.deepEqual(one.digests(), other.digests());
});

const col = (name: string, dataType = 'int') => ({ name, dataType, charset: null });
const table = (name: string, columns: ReturnType<typeof col>[], key: string[]): TableColumns => ({
  ref: { schema: 'db', table: name },
  columns,
  keyColumns: key,
});
const mapping = (m: Partial<MappingConfig> = {}): MappingConfig =>
  ({ source: { schema: 'db', table: 'x' }, target: {}, weight: 0, ...m }) as MappingConfig;

test('a transform declared pure is compared in the worker over the whole target row; any other is refused naming the mapping', () => {
  const source = table('people', [col('id'), col('name', 'varchar')], ['id']);
  const target = table('people', [col('id'), col('name', 'varchar'), col('name_len')], ['id']);
  const plan = planTableComparison(target, [
    { table: source, mapping: mapping({ transform: 'upper.ts', verify: 'pure' }), index: 3 },
  ]);
  assert.equal(plan.sources[0]?.transform, true);
  assert.deepEqual(
    plan.target.columns.map((c) => c.name),
    ['id', 'name', 'name_len'],
  );
  assert.deepEqual(plan.sources[0]?.side.keyColumns, ['id']);
  assert.throws(
    () =>
      planTableComparison(target, [{ table: source, mapping: mapping({ transform: 'upper.ts' }), index: 3 }]),
    (e: unknown) =>
      e instanceof ComparisonPlanError &&
      /^mappings\.3 \(db\.people → db\.people\): the mapping has a transform \(upper\.ts\) that is not declared pure; set `verify: pure`/.test(
        e.message,
      ),
  );
  const noTransform = planTableComparison(target, [{ table: source, mapping: mapping() }]);
  assert.equal(noTransform.sources[0]?.transform, undefined);
  assert.deepEqual(
    noTransform.target.columns.map((c) => c.name),
    ['id', 'name'],
  );
});

/** A target table `(id INT, n INT, v VARCHAR)` held in memory behind the row-reading seam. */
function memoryTarget(rows: Map<number, CellValue[]>): TargetRowAccess {
  const types: Record<string, string> = { id: 'int', n: 'int', v: 'varchar' };
  return {
    async codec(_table, columns) {
      return mysqlRowCodec(columns.map((c) => types[c]));
    },
    async read(q: TargetRowsQuery): Promise<CanonicalValue[][]> {
      const codec = mysqlRowCodec(q.columns.map((c) => types[c]));
      const out: CanonicalValue[][] = [];
      for (const [id, [n, v]] of rows) {
        if (q.keys && !q.keys.some((k) => Number(k[0]) === id)) continue;
        if (q.after && id <= Number(q.after[0])) continue;
        if (q.upTo && id > Number(q.upTo[0])) continue;
        const row: Record<string, CellValue> = { id, n: n ?? null, v: v ?? null };
        out.push(codec.canonical(q.columns.map((c) => row[c] ?? null)));
      }
      return out;
    },
  };
}

test('the chunk algorithm runs unchanged on worker-side digests: every changed key and no other', async () => {
  const source = new Map<number, CellValue[]>();
  for (let id = 1; id <= 300; id++) source.set(id, [id % 7, `v${id}`]);
  const target = new Map([...source].map(([k, v]) => [k, [...v]]));
  target.set(5, [5 % 7, 'changed']);
  target.delete(9);
  target.set(1000, [1, 'only here']);
  target.set(77, [null, `v77`]);
  const table = { ref: { schema: 'db', table: 't' }, keyColumns: ['id'], columns: ['id', 'n', 'v'] };
  const wait = { pipeline: 'p', timeoutMs: 1000 };
  const side = async (rows: Map<number, CellValue[]>) => {
    const access = memoryTarget(rows);
    const side = new WorkerVerifyTarget(
      access,
      { read: async () => ({ file: 'b.000001', pos: 10 }) },
      wait,
      table,
      await access.codec(table.ref, [...table.keyColumns, ...table.columns]),
    );
    return Object.assign(side, { position: async () => ({ file: 'b.000001', pos: 5 }) });
  };
  const outcome = await verifyChunk(
    await side(source),
    await side(target),
    {},
    { columns: ['id', 'n', 'v'] },
  );
  assert.equal(outcome.rowsSource, 300);
  assert.equal(outcome.rowsTarget, 300);
  assert.deepEqual(
    outcome.differences.map((d) => `${d.kind} ${JSON.stringify(d.key)} ${d.columns.join(',')}`).sort(),
    ['different [5] v', 'different [77] n', 'extra [1000] ', 'missing [9] '],
  );
  const equal = await verifyChunk(
    await side(source),
    await side(source),
    { after: [0], upTo: [150] },
    {
      columns: ['id', 'n', 'v'],
    },
  );
  assert.deepEqual([equal.rowsSource, equal.differences.length], [150, 0]);
});

test('the mapping field verify takes only pure', () => {
  const base = { name: 'p', source: 's', target: 't' };
  const ok = parsePipelineConfig({
    ...base,
    mappings: [{ source: { schema: 'db', table: 'x' }, transform: 'up.ts', verify: 'pure' }],
  });
  assert.equal(ok.mappings[0]?.verify, 'pure');
  assert.throws(
    () =>
      parsePipelineConfig({
        ...base,
        mappings: [{ source: { schema: 'db', table: 'x' }, transform: 'up.ts', verify: 'maybe' as 'pure' }],
      }),
    /mappings\.0\.verify|verify/,
  );
});

test('the worker compares where the servers cannot: a transform, or a target without checksum SQL', () => {
  const loaded = (transform: boolean) =>
    ({
      comparison: { sources: [{ ...(transform ? { transform: true } : {}) }] },
    }) as unknown as LoadedComparison;
  assert.equal(comparedInWorker(loaded(false), { checksumSql: true }), false);
  assert.equal(comparedInWorker(loaded(true), { checksumSql: true }), true);
  assert.equal(comparedInWorker(loaded(false), { checksumSql: false }), true);
  assert.equal(comparedInWorker(loaded(false), {}), true);
});

test('waiting for the applied position: returns once reached, says which pipeline lags on timeout, stops when cancelled', async () => {
  let pos = 100;
  const read = async () => {
    pos += 100;
    return { file: 'b.000001', pos };
  };
  await waitForApplied(read, { file: 'b.000001', pos: 350 }, { pipeline: 'p', timeoutMs: 5000, pollMs: 1 });
  await assert.rejects(
    waitForApplied(
      async () => undefined,
      { file: 'b.000002', pos: 4 },
      { pipeline: 'p', timeoutMs: 10, pollMs: 2 },
    ),
    /pipeline p has not applied the source up to b\.000002:4 .*applied: nothing/,
  );
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    waitForApplied(
      async () => undefined,
      { file: 'b.000002', pos: 4 },
      {
        pipeline: 'p',
        timeoutMs: 5000,
        signal: controller.signal,
      },
    ),
    /cancelled/,
  );
});
