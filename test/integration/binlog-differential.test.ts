import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RowsEvent } from '../../src/binlog/events';
import { readBinlogFile } from '../../src/binlog/file-reader';
import type { RowChange } from '../../src/binlog/types';
import { compareWithOracle, oracleRows } from '../helpers/mariadb-binlog-oracle';
import { freshDatabases, testStack } from '../helpers/stack';

/** Every column type and edge value the decoder must handle, written on the live source. */
const SQL = `
CREATE TABLE t_all (
  id INT PRIMARY KEY AUTO_INCREMENT,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
  d DECIMAL(65,30), d2 DECIMAL(10,2), f FLOAT, db DOUBLE,
  b1 BIT(1), b7 BIT(7), b64 BIT(64),
  dt DATE, dtm DATETIME(6), dtm0 DATETIME, ts TIMESTAMP(6) NULL DEFAULT NULL, tm TIME(6), tm0 TIME, y YEAR,
  vc VARCHAR(100) CHARACTER SET utf8mb4, c10 CHAR(10) CHARACTER SET utf8mb4, vl VARCHAR(50) CHARACTER SET latin1,
  cl CHAR(255) CHARACTER SET utf8mb4, tx TEXT CHARACTER SET utf8mb4,
  bn BINARY(8), vb VARBINARY(20), bl BLOB, lb LONGBLOB,
  e ENUM('a','b,c','it''s','x"y'), s SET('p','q r','s''t','u"v'),
  j JSON, g GEOMETRY, pt POINT REF_SYSTEM_ID=4326,
  u UUID, i4 INET4, i6 INET6
) ENGINE=InnoDB;
SET time_zone = '+00:00';
SET sql_mode = 'NO_ENGINE_SUBSTITUTION';
INSERT INTO t_all (ti,tiu,si,siu,mi,miu,i,iu,bi,biu,d,d2,f,db,b1,b7,b64,dt,dtm,dtm0,ts,tm,tm0,y,vc,c10,vl,cl,tx,bn,vb,bl,lb,e,s,j,g,pt,u,i4,i6) VALUES
 (-128,255,-32768,65535,-8388608,16777215,-2147483648,4294967295,-9223372036854775808,18446744073709551615,
  '-12345678901234567890123456789012345.123456789012345678901234567890','-99999999.99',-1.5e-10,1.7976931348623157e308,
  b'1',b'1010101',b'1111111111111111111111111111111111111111111111111111111111111111',
  '0000-00-00','0000-00-00 00:00:00.000000','9999-12-31 23:59:59','2038-01-19 03:14:07.999999','-838:59:59.000000','-00:00:01',0,
  'héllo 𝄞 wörld','abc','café ñ',REPEAT('é',255),'long text ✓',
  x'0001020300',x'00ff7f80',x'deadbeef00',REPEAT(x'ab',70000),
  'b,c','q r,s''t,u"v','{"a":[1,2.5,"x"],"b":null,"c":true}',ST_GeomFromText('LINESTRING(0 0,1 1,2 3)'),ST_GeomFromText('POINT(1 2)',4326),
  '123e4567-e89b-12d3-a456-426614174000','192.168.0.1','2001:db8::1'),
 (127,0,32767,0,8388607,0,2147483647,0,9223372036854775807,0,'0.000000000000000000000000000001','0.00',3.4e38,-2.2250738585072014e-308,
  b'0',b'0',b'0','1000-01-01','1000-01-01 00:00:00.000001','1970-01-01 00:00:01','1970-01-01 00:00:01.000000','838:59:59.999999','12:34:56',2155,
  '', '', '', '', '', '', '', '', '', 'it''s','', '[]', ST_GeomFromText('POINT(0 0)'), ST_GeomFromText('POINT(-1.5 2.25)',4326),
  '00000000-0000-0000-0000-000000000000','0.0.0.0','::'),
 (NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
INSERT INTO t_all (y, e, s, tm, dtm) VALUES (1901,'x"y','p,u"v','00:00:00.5','2024-02-29 12:00:00.5');
UPDATE t_all SET vc = CONCAT(vc, '!'), biu = 1, y = 2000, e = 'a', s = '' WHERE id = 1;
UPDATE t_all SET ti = 1, j = '{"k":"v"}' WHERE id = 3;
DELETE FROM t_all WHERE id = 2;
CREATE TABLE t_latin (id INT PRIMARY KEY, v VARCHAR(20) CHARACTER SET latin1, t TEXT CHARACTER SET latin1) ENGINE=InnoDB;
INSERT INTO t_latin VALUES (1, 'Ærø €', 'naïve');
ALTER TABLE t_latin ADD COLUMN extra INT NULL;
INSERT INTO t_latin VALUES (2, 'x', 'y', 42);
`;

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`)),
    );
  });
}

test('differential: every type and edge value decoded from a live MariaDB binlog equals mariadb-binlog', async (t) => {
  const db = await freshDatabases(t, 'bldiff');
  const dir = await mkdtemp(join(tmpdir(), 'bldiff-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await db.source.query('FLUSH BINARY LOGS');
  const [status] = (await db.source.query('SHOW MASTER STATUS')) as unknown as [Array<{ File: string }>];
  const firstFile = status[0]!.File;
  await db.source.query(SQL);
  await db.source.query('FLUSH BINARY LOGS');
  // Copy the binlog files over the replication protocol, as they are on the server.
  const s = testStack();
  await run(
    'mariadb-binlog',
    [
      '--read-from-remote-server',
      '--raw',
      `-h${s.host}`,
      `-P${s.sourcePort}`,
      '-uroot',
      '--to-last-log',
      firstFile,
    ],
    dir,
  );
  const files = (await readdir(dir)).filter((f) => /\.\d+$/.test(f)).sort();
  assert.ok(files.length >= 1);

  const ours: Array<{ pos: number; change: RowChange }> = [];
  const perTable = new Map<string, RowsEvent['table']>();
  for (const f of files) {
    const events = [];
    for await (const e of readBinlogFile(join(dir, f))) events.push(e);
    for (const e of events) {
      if (e.event.kind !== 'rows' || e.event.table.schema !== db.name) continue;
      perTable.set(e.event.table.table, e.event.table);
      for (const change of e.event.rows) ours.push({ pos: e.pos, change });
    }
  }
  const oracle = (await Promise.all(files.map((f) => oracleRows(join(dir, f)))))
    .flat()
    .filter((r) => r.schema === db.name);
  const result = compareWithOracle(ours, oracle);
  assert.deepEqual(result.mismatches, []);
  // 4 inserts + 2 updates (before and after) + 1 delete of 42 columns, plus the latin1 table.
  assert.equal(ours.length, 4 + 2 + 1 + 2);
  assert.ok(result.compared >= 42 * 9, `compared ${result.compared} values`);
  // YEAR 0 is the one value mariadb-binlog cannot show (it prints 1900); ours keeps 0.
  assert.equal(result.oracleLimits, 2);
  const first = ours[0]!.change;
  assert.ok(first.kind === 'insert');
  assert.equal(first.after[24], 0);
  assert.equal(first.after[10], 18446744073709551615n);

  // binlog_row_metadata=FULL: names, enum/set labels, geometry SRID column and the primary key arrive in the stream.
  const all = perTable.get('t_all');
  assert.ok(all);
  assert.equal(all.columns[34]!.name, 'e');
  assert.deepEqual(all.columns[34]!.enumValues, ['a', 'b,c', "it's", 'x"y']);
  assert.deepEqual(all.columns[35]!.setValues, ['p', 'q r', "s't", 'u"v']);
  assert.deepEqual(all.primaryKey, [0]);
  // After the ALTER the second t_latin insert carries four columns.
  const latin = ours.filter((r) => r.change.table.table === 't_latin').map((r) => r.change);
  assert.deepEqual(
    latin.map((c) => c.table.columns.length),
    [3, 4],
  );
});
