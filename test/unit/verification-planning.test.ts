import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MappingConfig } from '../../src/pipeline/config';
import {
  bucketAggregateSql,
  canonicalExpr,
  chunkAggregateSql,
  columnDigestSql,
  rowDigestSql,
  rowHashExpr,
  type SideTable,
} from '../../src/verification/checksum-sql';
import {
  ComparisonPlanError,
  filterColumns,
  planTableComparison,
  type TableColumns,
} from '../../src/verification/table-plan';

const col = (name: string, dataType = 'int', charset: string | null = null) => ({ name, dataType, charset });

test('canonical text: non-utf8mb4 character columns are converted, binary and numbers are not', () => {
  assert.equal(canonicalExpr(col('a', 'varchar', 'latin1')), 'CONVERT(`a` USING utf8mb4)');
  assert.equal(canonicalExpr(col('a', 'varchar', 'utf8mb4')), '`a`');
  assert.equal(canonicalExpr(col('a', 'varbinary', 'binary')), '`a`');
  assert.equal(canonicalExpr(col('a', 'decimal')), '`a`');
  assert.equal(
    rowHashExpr([col('id'), col('n', 'varchar', 'utf8mb3')]),
    "CRC32(CONCAT_WS('#', `id`, CONVERT(`n` USING utf8mb4), CONCAT(ISNULL(`id`), ISNULL(`n`))))",
  );
  assert.throws(() => rowHashExpr([]), /at least one column/);
});

test('chunk SQL: key range in target key order on this side’s names, keys, condition; parameters in order', () => {
  const side: SideTable = {
    ref: { schema: 's', table: 't' },
    columns: [col('uid'), col('v')],
    keyColumns: ['uid'],
  };
  const agg = chunkAggregateSql(side, { after: [10], upTo: [20], where: 'v > 3' });
  assert.equal(
    agg.sql,
    "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(CRC32(CONCAT_WS('#', `uid`, `v`, CONCAT(ISNULL(`uid`), ISNULL(`v`))))), 0) AS CHAR) AS s FROM `s`.`t` WHERE `uid` > ? AND NOT (`uid` > ?) AND (v > 3)",
  );
  assert.deepEqual(agg.params, [10, 20]);
  const rows = rowDigestSql(side, { keys: [[1], [2]] }, ['`kind`']);
  assert.match(rows.sql, /^SELECT `uid`, CRC32\(.*\), `kind` FROM `s`.`t` WHERE `uid` IN \(\?, \?\)$/);
  assert.deepEqual(rows.params, [1, 2]);
  const cols = columnDigestSql(side, [[7]]);
  assert.match(cols.sql, /IF\(`v` IS NULL, NULL, CRC32\(`v`\)\)/);
  assert.deepEqual(chunkAggregateSql(side, {}).params, []);
  // One bucket: a plain aggregate (no GROUP BY, no key hash); more: grouped by the key's bucket.
  const whole = bucketAggregateSql(side, { after: [10] }, 1);
  assert.match(whole.sql, /^SELECT 0 AS b, COUNT\(\*\) AS n, .* WHERE `uid` > \?$/);
  assert.deepEqual(whole.params, [10]);
  assert.match(
    bucketAggregateSql(side, {}, 64).sql,
    // Grouped by the expression: a compared column named `b` must not take the alias's place.
    /^SELECT \(CRC32\(CONCAT_WS\('#', `uid`\)\) % 64\) AS b, .* GROUP BY \(CRC32\(CONCAT_WS\('#', `uid`\)\) % 64\)$/,
  );
});

const table = (name: string, columns: ReturnType<typeof col>[], key: string[]): TableColumns => ({
  ref: { schema: 'db', table: name },
  columns,
  keyColumns: key,
});
const mapping = (m: Partial<MappingConfig> = {}): MappingConfig =>
  ({ source: { schema: 'db', table: 'x' }, target: {}, weight: 0, ...m }) as MappingConfig;

test('a renamed, column-filtered mapping compares target columns with the source columns they come from', () => {
  const source = table(
    'src',
    [col('id', 'bigint'), col('name', 'varchar', 'latin1'), col('secret', 'varchar', 'utf8mb4'), col('age')],
    ['id'],
  );
  const target = table(
    'people',
    [
      col('id', 'bigint'),
      col('full_name', 'varchar', 'utf8mb4'),
      col('age'),
      col('note', 'varchar', 'utf8mb4'),
    ],
    ['id'],
  );
  const plan = planTableComparison(target, [
    {
      table: source,
      mapping: mapping({ columns: { include: ['id', { from: 'name', to: 'full_name' }, 'age'] } }),
    },
  ]);
  assert.deepEqual(
    plan.target.columns.map((c) => c.name),
    ['id', 'full_name', 'age'],
    'note is not compared',
  );
  assert.deepEqual(
    plan.sources[0]?.side.columns.map((c) => c.name),
    ['id', 'name', 'age'],
  );
  assert.equal(plan.sources[0]?.side.columns[1]?.charset, 'latin1');
  assert.deepEqual(plan.sources[0]?.side.keyColumns, ['id']);

  const excluded = planTableComparison(target, [
    {
      table: { ...source, columns: source.columns.filter((c) => c.name !== 'name') },
      mapping: mapping({ columns: { exclude: ['secret'] } }),
    },
  ]);
  assert.deepEqual(
    excluded.target.columns.map((c) => c.name),
    ['id', 'age'],
  );
});

test('merged shards compare as one target table; mismatched shards, transforms and unmapped keys are refused', () => {
  const shard = (i: number) => table(`s_${i}`, [col('id'), col('v')], ['id']);
  const target = table('s_all', [col('id'), col('v')], ['id']);
  const plan = planTableComparison(
    target,
    [0, 1, 2].map((i) => ({ table: shard(i), mapping: mapping() })),
  );
  assert.equal(plan.sources.length, 3);
  assert.throws(
    () =>
      planTableComparison(target, [
        { table: shard(0), mapping: mapping() },
        { table: table('s_1', [col('id')], ['id']), mapping: mapping() },
      ]),
    /maps columns \(id\) other than the other sources/,
  );
  assert.throws(
    () => planTableComparison(target, [{ table: shard(0), mapping: mapping({ transform: 't.ts' }) }]),
    ComparisonPlanError,
  );
  assert.throws(
    () =>
      planTableComparison(table('t', [col('k'), col('v')], ['k']), [
        {
          table: table('s', [col('id'), col('v')], ['id']),
          mapping: mapping({ columns: { include: ['v'] } }),
        },
      ]),
    /key column k is not mapped/,
  );
  assert.throws(
    () => planTableComparison(table('t', [col('id')], []), [{ table: shard(0), mapping: mapping() }]),
    /no primary or NOT NULL unique key/,
  );
  assert.throws(
    () => planTableComparison(table('t', [col('id')], ['id']), [{ table: shard(0), mapping: mapping() }]),
    /lacks column\(s\) v/,
  );
});

test('the columns a row filter reads, through all / any / not', () => {
  assert.deepEqual(
    filterColumns({
      all: [
        { column: 'a', op: '=', value: 1 },
        { any: [{ column: 'b', op: 'isNull' }, { not: { column: 'a', op: '>', value: 2 } }] },
      ],
    }),
    ['a', 'b'],
  );
  assert.deepEqual(filterColumns(undefined), []);
});

test('NULL flags only for columns that may be NULL on either side, the same on both sides', () => {
  const notNull = (name: string) => ({ ...col(name), nullable: false });
  const source = table('s', [notNull('id'), notNull('a'), notNull('b')], ['id']);
  const target = table('t', [notNull('id'), notNull('a'), col('b')], ['id']);
  const plan = planTableComparison(target, [{ table: source, mapping: mapping() }]);
  const expected = "CRC32(CONCAT_WS('#', `id`, `a`, `b`, CONCAT(ISNULL(`b`))))";
  assert.equal(rowHashExpr(plan.target.columns), expected);
  assert.equal(rowHashExpr(plan.sources[0]?.side.columns ?? []), expected);
  assert.equal(rowHashExpr([notNull('id')]), "CRC32(CONCAT_WS('#', `id`))");
});
