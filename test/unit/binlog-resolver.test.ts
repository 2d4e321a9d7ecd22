/**
 * Completing table maps from information_schema (schema-resolver.ts) without a server: ordinal
 * matching and its refusals (MINIMAL), name matching for MariaDB UUID/INET types (FULL), and how the
 * decoder and resolver follow DDL and changed table maps in real binlog files.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { BinlogDecoder, tableNeedsSchema } from '../../src/binlog/decoder';
import { BinlogDecodeError } from '../../src/binlog/errors';
import type { TableMapEvent } from '../../src/binlog/events';
import { readBinlogFile } from '../../src/binlog/file-reader';
import {
  applyResolvedTable,
  followSchemaChanges,
  type ResolvedColumn,
  type ResolvedTable,
  type SchemaResolver,
} from '../../src/binlog/schema-resolver';
import { type ColumnDef, ColumnType, type TableSchema } from '../../src/binlog/types';

const FIXTURES = join(__dirname, '..', '..', '..', 'shared', 'fixtures', 'binlog');

function col(type: number, meta: number, extra: Partial<ColumnDef> = {}): ColumnDef {
  return { name: '', type, meta, nullable: true, unsigned: false, ...extra };
}

function rc(name: string, dataType: string, columnType = dataType, collationId?: number): ResolvedColumn {
  return { name, dataType, columnType, nullable: true, collationId };
}

const STRING = ColumnType.STRING;
/** A MINIMAL table map: types, metas and charsets, no names. */
const minimal: TableSchema = {
  tableId: 42n,
  schema: 'shop',
  table: 'orders',
  primaryKey: [],
  columns: [
    col(ColumnType.LONG, 0),
    col(ColumnType.VARCHAR, 20, { charset: 8 }),
    col(ColumnType.ENUM, (ColumnType.ENUM << 8) | 1),
    col(ColumnType.LONGLONG, 0),
    col(STRING, (STRING << 8) | 16, { charset: 63 }),
    col(STRING, (STRING << 8) | 4, { charset: 63 }),
    col(STRING, (STRING << 8) | 6),
    col(ColumnType.BLOB, 2),
  ],
};
const current: ResolvedTable = {
  primaryKey: [0],
  columns: [
    rc('id', 'int', 'int(10) unsigned'),
    rc('name', 'varchar', 'varchar(20)', 8),
    rc('kind', 'enum', "enum('a','b,c','it''s')"),
    rc('big', 'bigint', 'bigint(20) unsigned'),
    rc('u', 'uuid'),
    rc('ip', 'inet4'),
    rc('bin', 'binary', 'binary(6)'),
    rc('doc', 'text', 'text', 45),
  ],
};

test('MINIMAL: columns match by ordinal and take names, signedness, labels, charsets, dataType and key', () => {
  const t = applyResolvedTable(minimal, current);
  assert.deepEqual(
    t.columns.map((c) => c.name),
    ['id', 'name', 'kind', 'big', 'u', 'ip', 'bin', 'doc'],
  );
  assert.deepEqual(
    t.columns.map((c) => c.unsigned),
    [true, false, false, true, false, false, false, false],
  );
  assert.deepEqual(t.columns[2]?.enumValues, ['a', 'b,c', "it's"]);
  assert.deepEqual(
    t.columns.map((c) => c.dataType),
    ['int', 'varchar', 'enum', 'bigint', 'uuid', 'inet4', 'binary', 'text'],
  );
  // The table map's charset stays; a binary type without one gets 63 (so BINARY is zero-padded),
  // a text type the collation of information_schema.
  assert.equal(t.columns[1]?.charset, 8);
  assert.equal(t.columns[6]?.charset, 63);
  assert.equal(t.columns[7]?.charset, 45);
  assert.deepEqual(t.primaryKey, [0]);
  assert.equal(minimal.columns[0]?.name, '', 'the input is not modified');
});

test('MINIMAL: disagreements are refused with the table and the column named', () => {
  const refuse = (resolved: ResolvedTable, pattern: RegExp) =>
    assert.throws(
      () => applyResolvedTable(minimal, resolved),
      (e: unknown) =>
        e instanceof BinlogDecodeError &&
        /schema mismatch for shop\.orders/.test(e.message) &&
        pattern.test(e.message),
    );
  refuse(
    { ...current, columns: [...current.columns, rc('added', 'int')] },
    /the binlog has 8 columns, information_schema has 9/,
  );
  const swap = (i: number, c: ResolvedColumn) => ({
    ...current,
    columns: current.columns.map((x, j) => (j === i ? c : x)),
  });
  refuse(swap(0, rc('id', 'bigint', 'bigint(20)')), /column 1 is LONG in the binlog but `id` bigint\(20\)/);
  // Binary in the binlog, a character type in information_schema (and the reverse).
  refuse(
    swap(4, rc('u', 'char', 'char(16)', 45)),
    /column 5 is STRING\(16 bytes, binary\) in the binlog but `u` char\(16\)/,
  );
  refuse(swap(1, rc('name', 'varbinary', 'varbinary(20)')), /column 2 is VARCHAR\(20 bytes\)/);
  // INET4 is 4 bytes: a 16-byte column cannot be one.
  refuse(swap(4, rc('u', 'inet4')), /column 5 is STRING\(16 bytes, binary\) in the binlog but `u` inet4/);
});

test('FULL: columns match by name; only agreeing UUID/INET columns get their dataType', () => {
  const full: TableSchema = {
    ...minimal,
    columns: minimal.columns.map((c, i) => ({
      ...c,
      name: ['id', 'name', 'kind', 'big', 'u', 'ip', 'bin', 'doc'][i]!,
    })),
  };
  // information_schema in another order, one column gone, one changed type since.
  const resolved: ResolvedTable = {
    primaryKey: [],
    columns: [rc('ip', 'inet6'), rc('u', 'uuid'), rc('id', 'int'), rc('bin', 'binary', 'binary(6)')],
  };
  const t = applyResolvedTable(full, resolved);
  assert.deepEqual(
    t.columns.map((c) => c.dataType),
    ['int', undefined, undefined, undefined, 'uuid', undefined, 'binary', undefined],
  );
  assert.deepEqual(
    t.columns.map((c) => c.name),
    full.columns.map((c) => c.name),
  );
});

test('tableNeedsSchema: no names, or MariaDB BINARY(16)/BINARY(4)', () => {
  const named = { ...minimal, columns: minimal.columns.map((c) => ({ ...c, name: 'x' })) };
  assert.equal(tableNeedsSchema(minimal, false, false), true);
  assert.equal(tableNeedsSchema(named, true, true), true);
  assert.equal(tableNeedsSchema(named, true, false), false, 'MySQL has no UUID/INET types');
  const noAddress = { ...named, columns: named.columns.filter((c) => c.type !== STRING) };
  assert.equal(tableNeedsSchema(noAddress, true, true), false);
});

/** Answers with a definition that agrees with whatever table map it was last shown, and counts calls. */
class MirrorResolver implements SchemaResolver {
  readonly calls = new Map<string, number>();
  invalidations: Array<string | undefined> = [];
  shapes = new Map<string, TableSchema>();
  resolve(schema: string, table: string): Promise<ResolvedTable | undefined> {
    const key = `${schema}.${table}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    const shape = this.shapes.get(key);
    if (!shape) return Promise.resolve(undefined);
    return Promise.resolve({
      primaryKey: [],
      columns: shape.columns.map((c, i) => rc(`${table}_c${i + 1}`, mirrorType(c))),
    });
  }
  invalidate(schema?: string, table?: string): void {
    this.invalidations.push(schema === undefined ? undefined : `${schema}.${table ?? '*'}`);
  }
}

function mirrorType(c: ColumnDef): string {
  const binary = c.charset === 63;
  switch (c.type) {
    case ColumnType.LONG:
      return 'int';
    case ColumnType.TINY:
      return 'tinyint';
    case ColumnType.LONGLONG:
      return 'bigint';
    case ColumnType.VARCHAR:
      return binary ? 'varbinary' : 'varchar';
    case STRING:
      return binary ? 'binary' : 'char';
    case ColumnType.BLOB:
      return binary ? 'blob' : 'text';
    case ColumnType.DATETIME2:
    case ColumnType.DATETIME:
      return 'datetime';
    case ColumnType.TIMESTAMP2:
      return 'timestamp';
    case ColumnType.NEWDECIMAL:
      return 'decimal';
    default:
      return 'other';
  }
}

test('a file with MINIMAL maps: one resolution per table until a DDL passes, then each table again', async () => {
  const resolver = new MirrorResolver();
  // First pass: learn the shapes (a resolver that knows nothing leaves maps unresolved → error).
  for await (const e of readBinlogFile(join(FIXTURES, 'mysql-bin.checksum-none')))
    if (e.event.kind === 'tableMap')
      resolver.shapes.set(`${e.event.table.schema}.${e.event.table.table}`, e.event.table);
  const names = new Set<string>();
  let ddlAt = 0;
  const resolvedBeforeDdl = new Set<string>();
  for await (const e of readBinlogFile(join(FIXTURES, 'mysql-bin.checksum-none'), {
    schemaResolver: resolver,
  })) {
    if (e.event.kind === 'query' && e.event.statement === 'ddl') {
      ddlAt = e.pos;
      for (const k of resolver.calls.keys()) resolvedBeforeDdl.add(k);
    }
    if (e.event.kind === 'rows') for (const c of e.event.table.columns) names.add(c.name);
  }
  assert.equal(ddlAt, 19793, 'the last DDL of the file (create table message)');
  assert.ok(names.has('account_c1') && names.has('refresh_token_c6'));
  assert.ok(![...names].includes(''), 'every row came out named');
  // refresh_token: 24 table maps, resolved before the last DDL and once after it.
  assert.equal(resolver.calls.get('account_db.refresh_token'), 2);
  assert.equal(resolver.calls.get('account_db.message'), 1);
  assert.ok(resolver.invalidations.filter((x) => x === undefined).length >= 4, 'every DDL invalidates');
});

test('a table map whose types changed refreshes a cached definition; a stale cache is retried once', async () => {
  const decoder = new BinlogDecoder();
  let map: TableMapEvent | undefined;
  for await (const e of readBinlogFile(join(FIXTURES, 'mysql-bin.checksum-crc32'), {
    decoder,
    stopPosition: 400,
  }))
    if (e.event.kind === 'tableMap') map = e.event;
  assert.ok(map);
  const key = `${map.table.schema}.${map.table.table}`;
  const mapped = map.table;

  /** A cache that answers `stale` until invalidated for this table, then the fresh definition. */
  let stale = true;
  const resolver = new MirrorResolver();
  resolver.shapes.set(key, mapped);
  const base = resolver.resolve.bind(resolver);
  resolver.resolve = async (s, t) => {
    const r = await base(s, t);
    return stale && r ? { ...r, columns: r.columns.slice(1) } : r;
  };
  resolver.invalidate = (s, t) => {
    resolver.invalidations.push(`${s}.${t ?? '*'}`);
    if (`${s}.${t}` === key) stale = false;
  };
  await followSchemaChanges(decoder, map, resolver);
  assert.deepEqual(resolver.invalidations, [key], 'the mismatch against the cache invalidated that table');
  assert.equal(map.table.columns[0]?.name, `${mapped.table}_c1`);
  assert.equal(decoder.tableNeedsSchema(mapped.tableId), false);

  // The same table id mapped again with a different column type: the cache is dropped first.
  resolver.invalidations = [];
  stale = false;
  const changed: TableMapEvent = {
    ...map,
    table: {
      ...mapped,
      columns: mapped.columns.map((c, i) => (i === 0 ? { ...c, type: ColumnType.LONGLONG } : c)),
    },
  };
  resolver.shapes.set(key, changed.table);
  decoder.forgetCompletedTables();
  await followSchemaChanges(decoder, changed, resolver);
  assert.deepEqual(resolver.invalidations, [key]);

  // A definition that still disagrees after a fresh read is refused at the event's position.
  const unknownResolver = new MirrorResolver();
  decoder.forgetCompletedTables();
  await assert.rejects(
    followSchemaChanges(decoder, { ...map, table: mapped }, unknownResolver),
    (e: unknown) =>
      e instanceof BinlogDecodeError &&
      e.position === map.position?.pos &&
      /no column names in the binlog and no longer exists in information_schema/.test(e.message),
  );
});

test('MySQL 8 transaction payload: rows decoded before their map was completed are decoded again', async () => {
  const resolver = new MirrorResolver();
  for await (const e of readBinlogFile(join(FIXTURES, 'mysql-bin.compressed')))
    if (e.event.kind === 'transactionPayload')
      for (const inner of e.event.events)
        if (inner.kind === 'tableMap')
          resolver.shapes.set(`${inner.table.schema}.${inner.table.table}`, inner.table);
  assert.equal(resolver.shapes.size, 1);
  let rows = 0;
  for await (const e of readBinlogFile(join(FIXTURES, 'mysql-bin.compressed'), {
    schemaResolver: resolver,
  })) {
    if (e.event.kind !== 'transactionPayload') continue;
    for (const inner of e.event.events) {
      if (inner.kind !== 'rows') continue;
      assert.equal(inner.table.columns[0]?.name, 'movies_c1');
      for (const r of inner.rows) {
        rows++;
        assert.equal(r.table.columns[4]?.name, 'movies_c5');
        assert.ok(r.kind === 'update' && r.after[4] === 'Western|Action');
      }
    }
  }
  assert.equal(rows, 1);
});
