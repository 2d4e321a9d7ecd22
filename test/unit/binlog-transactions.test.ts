import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { BinlogDecoder } from '../../src/binlog/decoder';
import { BinlogDecodeError } from '../../src/binlog/errors';
import { readBinlogFile } from '../../src/binlog/file-reader';
import { MysqlGtidSet } from '../../src/binlog/gtid-set';
import {
  applyResolvedTable,
  parseEnumLabels,
  type ResolvedTable,
  type SchemaResolver,
} from '../../src/binlog/schema-resolver';
import { TransactionAssembler, type TransactionItem } from '../../src/binlog/transactions';

const FIXTURES = join(__dirname, '..', '..', '..', 'shared', 'fixtures', 'binlog');

async function assemble(file: string, options = {}): Promise<{ items: TransactionItem[]; ends: number[] }> {
  const a = new TransactionAssembler();
  const items: TransactionItem[] = [];
  const ends: number[] = [];
  for await (const e of readBinlogFile(join(FIXTURES, file), options)) {
    items.push(...a.accept(e));
    ends.push(e.nextPos);
  }
  return { items, ends };
}

test('transactions: every begin has a commit, rows sit between them, commits resume after the XID', async () => {
  const { items, ends } = await assemble('mysql-bin.checksum-crc32');
  const begins = items.filter((i) => i.kind === 'begin').length;
  const commits = items.filter((i) => i.kind === 'commit');
  assert.equal(begins, 60);
  assert.equal(commits.length, 60);
  let open = false;
  let rows = 0;
  for (const i of items) {
    if (i.kind === 'begin') {
      assert.equal(open, false);
      open = true;
    } else if (i.kind === 'rows') {
      assert.equal(open, true);
      rows += i.event.rows.length;
    } else if (i.kind === 'commit') {
      assert.equal(open, true);
      open = false;
      assert.ok(ends.includes(i.resumeFrom.pos), `resume position ${i.resumeFrom.pos} is an event end`);
      assert.equal(i.resumeFrom.file, 'mysql-bin.checksum-crc32');
      assert.ok(i.xid !== undefined);
    }
  }
  assert.equal(rows, 63);
  // Resuming from a commit position replays exactly the later transactions.
  const middle = commits[29]!.resumeFrom.pos;
  const rest = await assemble('mysql-bin.checksum-crc32', { startPosition: middle });
  assert.equal(rest.items.filter((i) => i.kind === 'commit').length, 30);
});

test('transactions: a compressed MySQL 8 transaction becomes begin, rows, commit after the payload event', async () => {
  const { items } = await assemble('mysql-bin.compressed');
  const kinds = items.map((i) => i.kind);
  assert.deepEqual(kinds.slice(0, 3), ['begin', 'rows', 'commit']);
  const commit = items[2];
  assert.ok(commit?.kind === 'commit');
  assert.equal(commit.resumeFrom.pos, 724);
});

test('GTID state: MySQL GTID set arithmetic and MariaDB state through the assembler', () => {
  const s = MysqlGtidSet.parse('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7');
  s.add('3e11fa47-71ca-11e1-9e33-c80aa9429562', 6n);
  s.add('3e11fa47-71ca-11e1-9e33-c80aa9429562', 9n);
  assert.equal(s.toString(), '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7:9');
  const a = new TransactionAssembler({ gtidState: '0-1-10,1-1-3' });
  const header = { timestamp: 1, type: 0, serverId: 2, eventSize: 0, logPos: 0, flags: 0 };
  const at = (pos: number, event: Parameters<TransactionAssembler['accept']>[0]['event']) =>
    a.accept({ file: 'b.000002', pos, nextPos: pos + 10, event });
  at(100, {
    kind: 'gtid',
    flavor: 'mariadb',
    header,
    gtid: '0-2-11',
    domainId: 0,
    serverId: 2,
    seqNo: 11n,
    flags: 1,
    standalone: true,
  });
  const out = at(110, {
    kind: 'query',
    header,
    schema: 'd',
    query: 'CREATE TABLE x (a INT)',
    statement: 'ddl',
    threadId: 1,
    execTime: 0,
    errorCode: 0,
  });
  assert.deepEqual(
    out.map((i) => i.kind),
    ['begin', 'statement', 'commit'],
  );
  const commit = out[2];
  assert.ok(commit?.kind === 'commit');
  assert.deepEqual(commit.resumeFrom, { file: 'b.000002', pos: 120, gtid: '0-2-11,1-1-3' });
  assert.equal(out[0]?.kind === 'begin' && out[0].gtid, '0-2-11');
});

test('schema resolution: names, unsigned and enum labels come from the resolver; disagreement throws', async () => {
  // The MySQL 5.7 fixture has no column names (binlog_row_metadata did not exist yet).
  const resolver: SchemaResolver & { calls: number; invalidations: number } = {
    calls: 0,
    invalidations: 0,
    async resolve(): Promise<ResolvedTable> {
      this.calls++;
      const columns = Array.from({ length: 12 }, (_, i) => ({
        name: `c${i + 1}`,
        dataType: [0, 4].includes(i)
          ? 'int'
          : i === 1 || i === 2
            ? 'varchar'
            : i === 4 || i === 9
              ? 'timestamp'
              : 'bigint',
        columnType: 'x',
        nullable: true,
      }));
      columns[0]!.dataType = 'int';
      columns[4]!.dataType = 'timestamp';
      columns[7]!.dataType = 'tinyint';
      columns[8]!.dataType = 'tinyint';
      columns[9]!.dataType = 'timestamp';
      return { columns, primaryKey: [0] };
    },
    invalidate() {
      this.invalidations++;
    },
  };
  let names: string[] = [];
  for await (const e of readBinlogFile(join(FIXTURES, 'mysql-bin.checksum-crc32'), {
    schemaResolver: resolver,
    stopPosition: 879,
  }))
    if (e.event.kind === 'rows') names = e.event.table.columns.map((c) => c.name);
  assert.deepEqual(names.slice(0, 3), ['c1', 'c2', 'c3']);
  assert.ok(resolver.calls >= 1);

  const decoder = new BinlogDecoder();
  let table: Parameters<typeof applyResolvedTable>[0] | undefined;
  for await (const e of readBinlogFile(join(FIXTURES, 'mysql-bin.checksum-crc32'), {
    decoder,
    stopPosition: 400,
  }))
    if (e.event.kind === 'tableMap') table = e.event.table;
  assert.ok(table);
  assert.throws(
    () =>
      applyResolvedTable(table, {
        columns: [{ name: 'a', dataType: 'int', columnType: 'int', nullable: false }],
        primaryKey: [],
      }),
    (e: unknown) => e instanceof BinlogDecodeError && /12 columns, information_schema has 1/.test(e.message),
  );
  assert.deepEqual(parseEnumLabels("enum('a','b,c','it''s','x\"y')"), ['a', 'b,c', "it's", 'x"y']);
});
