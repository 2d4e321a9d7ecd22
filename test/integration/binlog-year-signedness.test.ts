import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import type mysql from 'mysql2/promise';
import { readBinlogFile } from '../../src/binlog/file-reader';
import { freshDatabases } from '../helpers/stack';

// Regression: MariaDB gives YEAR a bit in the table map's SIGNEDNESS metadata (MySQL does not).
// Skipping it shifted the signedness of every numeric column after a YEAR column.
test('signedness of numeric columns after a YEAR column is read right (MariaDB)', async (t) => {
  const db = await freshDatabases(t, 'year');
  await db.source.query('CREATE TABLE t (y YEAR, b INT, c INT UNSIGNED, d TINYINT)');
  await db.source.query('FLUSH BINARY LOGS');
  await db.source.query('INSERT INTO t VALUES (0, -1, 4294967295, -128), (2155, 2147483647, 0, 127)');
  const [[last]] = await db.source.query<mysql.RowDataPacket[]>('SHOW MASTER STATUS');
  const [[dir]] = await db.source.query<mysql.RowDataPacket[]>('SELECT @@datadir AS d');
  await db.source.query('FLUSH BINARY LOGS');
  const rows: unknown[] = [];
  for await (const ev of readBinlogFile(path.join(String(dir?.d), String(last?.File)))) {
    if (ev.event.kind === 'rows' && ev.event.table.schema === db.name) {
      for (const r of ev.event.rows) if (r.kind === 'insert') rows.push(r.after);
    }
  }
  assert.deepEqual(rows, [
    [0, -1, 4294967295, -128],
    [2155, 2147483647, 0, 127],
  ]);
});
