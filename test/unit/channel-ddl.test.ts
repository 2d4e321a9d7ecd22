import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyzeDdl } from '../../src/pipeline/ddl';
import { ddlMarkComment, ddlMarksOf, ddlSkipMark, withDdlMark } from '../../src/replication/channel';

describe('DDL markers of channels', () => {
  test('a marked statement names its channel and pipeline and stays the same statement', () => {
    const sql = withDdlMark('ALTER TABLE `db`.`t` ADD COLUMN v INT', 'shop-ab', 'a_to_b');
    assert.equal(
      sql,
      'ALTER TABLE `db`.`t` ADD COLUMN v INT\n/* otterflow:ddl channel=shop-ab pipeline=a_to_b */',
    );
    assert.deepEqual(ddlMarksOf(sql), [{ channel: 'shop-ab', pipeline: 'a_to_b' }]);
    // The DDL analysis ignores the comment: same kind and tables as without it.
    const routing = {
      routes: (schema: string, table: string) => [
        { target: { schema, table }, manyToOne: false, columnRules: false },
      ],
      schemaTargets: () => undefined,
    };
    const a = analyzeDdl(sql, 'db', routing);
    assert.equal(a.kind, 'alter_table');
    assert.deepEqual(a.tables, [{ schema: 'db', table: 't' }]);
  });

  test('a trailing line comment cannot swallow the marker; a trailing semicolon is dropped', () => {
    const sql = withDdlMark('ALTER TABLE t ADD c INT -- why ;  \n ', 'c1', 'p');
    assert.equal(sql, `ALTER TABLE t ADD c INT -- why\n${ddlMarkComment('c1', 'p')}`);
    assert.deepEqual(ddlMarksOf(sql), [{ channel: 'c1', pipeline: 'p' }]);
    assert.equal(withDdlMark('TRUNCATE t;', 'c1', 'p'), `TRUNCATE t\n${ddlMarkComment('c1', 'p')}`);
  });

  test('only real block comments count: not strings, quoted names, line or executable comments', () => {
    const m = 'otterflow:ddl channel=c1 pipeline=p';
    assert.deepEqual(ddlMarksOf(`ALTER TABLE t COMMENT '/* ${m} */'`), []);
    assert.deepEqual(ddlMarksOf(`ALTER TABLE t COMMENT "it''s /* ${m} */"`), []);
    assert.deepEqual(ddlMarksOf(`CREATE TABLE \`/* ${m} */\` (id INT)`), []);
    assert.deepEqual(ddlMarksOf(`ALTER TABLE t ADD c INT -- /* ${m} */`), []);
    assert.deepEqual(ddlMarksOf(`ALTER TABLE t ADD c INT # /* ${m} */`), []);
    assert.deepEqual(ddlMarksOf(`ALTER TABLE t /* not ${m} */ ADD c INT`), []);
    assert.deepEqual(ddlMarksOf(`ALTER TABLE t ADD c INT /*!50100 COMMENT 'x' */ /* ${m} */`), [
      { channel: 'c1', pipeline: 'p' },
    ]);
    assert.deepEqual(ddlMarksOf(`ALTER TABLE t COMMENT 'a\\'b' /* ${m} */`), [
      { channel: 'c1', pipeline: 'p' },
    ]);
    assert.deepEqual(ddlMarksOf('ALTER TABLE t ADD c INT'), []);
  });

  test('a channel skips its own and the suppress-sync marker, not other channels (cascades)', () => {
    const fromAB = withDdlMark('ALTER TABLE t ADD c INT', 'ch1', 'a_to_b');
    assert.deepEqual(ddlSkipMark(fromAB, 'ch1'), { channel: 'ch1', pipeline: 'a_to_b' });
    assert.equal(ddlSkipMark(fromAB, 'ch2'), undefined);
    // B → C (channel 2) applies it and adds its mark: C → B skips it, B → A (channel 1) too.
    const fromBC = withDdlMark(fromAB, 'ch2', 'b_to_c');
    assert.equal(ddlMarksOf(fromBC).length, 2);
    assert.equal(ddlSkipMark(fromBC, 'ch2')?.pipeline, 'b_to_c');
    assert.equal(ddlSkipMark(fromBC, 'ch1')?.pipeline, 'a_to_b');
    assert.equal(ddlSkipMark(fromBC, 'ch3'), undefined);
    // An application's own DDL with the suppress-sync marker (no pipeline named).
    const app = 'ALTER TABLE t ADD c INT /* otterflow:ddl channel=* */';
    assert.deepEqual(ddlSkipMark(app, 'ch1'), { channel: '*' });
    assert.deepEqual(ddlSkipMark(app, 'anything'), { channel: '*' });
  });
});
