import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CellValue } from '../../src/binlog/types';
import type { TableInfoSource } from '../../src/connectors/dialect';
import { parsePipelineConfig, validatePipelineConfig } from '../../src/pipeline/config';
import { BatchMerger } from '../../src/pipeline/merge';
import type { ApplyPlan, MappedChange, Row, TableRef, TargetTableInfo } from '../../src/pipeline/model';
import {
  ConflictChecker,
  type ConflictSettings,
  compareVersions,
  normalizeDecimal,
  type PeerSite,
  sameCell,
  type TargetRow,
} from '../../src/replication/conflicts';

const T: TableRef = { schema: 'db', table: 't' };
const info: TargetTableInfo & { columnTypes: Record<string, string> } = {
  ref: T,
  columns: ['id', 'v', 'ts', 'f'],
  keyColumns: ['id'],
  keyKind: 'primary',
  columnTypes: { id: 'bigint', v: 'varchar', ts: 'datetime', f: 'float' },
};
const tables: TableInfoSource = { get: async () => info, invalidate: () => {} };

function r(id: bigint, v: string, ts: string, f = 1.5): Row {
  return new Map<string, CellValue>([
    ['id', id],
    ['v', v],
    ['ts', ts],
    ['f', f],
  ]);
}

/** A plan from source changes through a merger that keeps first before images. */
function planOf(changes: MappedChange[]): ApplyPlan {
  const m = new BatchMerger(() => ['id'], undefined, undefined, true);
  m.addAll(changes);
  return m.drain();
}

function checker(settings: ConflictSettings, target: TargetRow[], peer?: PeerSite, pipeline = 'a_to_b') {
  const warnings: string[] = [];
  const reads: CellValue[][][] = [];
  const c = new ConflictChecker({
    pipeline,
    channel: 'ab',
    settings,
    tables,
    reader: {
      read: async (_info, keys) => {
        reads.push(keys);
        return target;
      },
    },
    peer: async () => peer,
    warn: (w) => warnings.push(w),
  });
  return { c, warnings, reads };
}

// The target as mysql2 returns it (openMysql): BIGINT and DATETIME as text, FLOAT via `f + 0e0` as a double.
const tRow = (id: string, v: string, ts: string, f = 1.5): TargetRow => ({ id, v, ts, f });

describe('merger keepFirstBefore', () => {
  test('carries the FIRST before image of a key through U+U, U+D and D+I; none for inserts', () => {
    const p = planOf([
      { kind: 'update', target: T, before: r(1n, 'a0', 't0'), after: r(1n, 'a1', 't1') },
      { kind: 'update', target: T, before: r(1n, 'a1', 't1'), after: r(1n, 'a2', 't2') },
      { kind: 'update', target: T, before: r(2n, 'b0', 't0'), after: r(2n, 'b1', 't1') },
      { kind: 'delete', target: T, before: r(2n, 'b1', 't1') },
      { kind: 'delete', target: T, before: r(3n, 'c0', 't0') },
      { kind: 'insert', target: T, after: r(3n, 'c1', 't1') },
      { kind: 'insert', target: T, after: r(4n, 'd0', 't0') },
    ]);
    const tp = p.tables[0]!;
    const up = new Map(tp.upserts.map((o) => [o.key[0], o]));
    const del = new Map(tp.deletes.map((o) => [o.key[0], o]));
    assert.equal(up.get(1n)?.sourceBefore?.get('v'), 'a0');
    assert.equal(up.get(1n)?.row.get('v'), 'a2');
    assert.equal(del.get(2n)?.sourceBefore?.get('v'), 'b0');
    assert.equal(up.get(3n)?.sourceBefore?.get('v'), 'c0');
    assert.equal(up.get(4n)?.sourceBefore, undefined);
  });

  test('off by default: plans are exactly what they were', () => {
    const m = new BatchMerger(() => ['id']);
    m.add({ kind: 'update', target: T, before: r(1n, 'a0', 't0'), after: r(1n, 'a1', 't1') });
    assert.equal('sourceBefore' in (m.drain().tables[0]?.upserts[0] ?? {}), false);
  });
});

describe('sameCell', () => {
  test('binlog values equal the driver values of the same stored value', () => {
    assert.ok(sameCell('bigint', 18446744073709551615n, '18446744073709551615'));
    assert.ok(sameCell('int', 5, 5));
    assert.ok(sameCell('float', Math.fround(123456.789), 123456.7890625));
    assert.ok(sameCell('double', 0.1 + 0.2, 0.30000000000000004));
    assert.ok(sameCell('decimal', '12.50', '12.5000'));
    assert.ok(sameCell('datetime', '2024-01-02 03:04:05', '2024-01-02 03:04:05.000000'));
    assert.ok(sameCell('json', '{"a":1,"b":[1,2]}', '{"b": [1, 2], "a": 1}'));
    assert.ok(sameCell('varbinary', Buffer.from([0, 255]), Buffer.from([0, 255])));
    assert.ok(sameCell('varchar', null, null));
    assert.ok(sameCell('varchar', undefined, 'anything'), 'a column absent from the image is not compared');
  });
  test('different stored values differ, exactly (no collation folding)', () => {
    assert.ok(!sameCell('varchar', 'a', 'A'));
    assert.ok(!sameCell('varchar', 'a', 'a '));
    assert.ok(!sameCell('bigint', 1n, '2'));
    assert.ok(!sameCell('float', Math.fround(1.5), 1.25));
    assert.ok(!sameCell('decimal', '1.01', '1.1'));
    assert.ok(!sameCell('varchar', null, ''));
    assert.ok(!sameCell('varbinary', Buffer.from([1]), Buffer.from([1, 0])));
  });
  test('helpers', () => {
    assert.equal(normalizeDecimal('-000.000'), '0');
    assert.equal(normalizeDecimal('+0012.3400'), '12.34');
    assert.equal(compareVersions('2024-01-02 00:00:00.5', '2024-01-02 00:00:00.123456', 'datetime'), 1);
    assert.equal(compareVersions(18446744073709551615n, '18446744073709551614'), 1);
    assert.equal(compareVersions(7, 7n), 0);
    assert.equal(compareVersions(null, 1), undefined);
  });
});

describe('ConflictChecker', () => {
  const update = (before: Row, after: Row): MappedChange => ({ kind: 'update', target: T, before, after });

  test('no conflict when the target still holds the source before image or lacks an inserted key', async () => {
    const { c, reads } = checker({ policy: 'targetWins', sitePriority: 0 }, [
      tRow('1', 'a0', '2024-01-01 00:00:00'),
    ]);
    const plan = planOf([
      update(r(1n, 'a0', '2024-01-01 00:00:00'), r(1n, 'a1', '2024-01-01 00:00:01')),
      { kind: 'insert', target: T, after: r(9n, 'new', '2024-01-01 00:00:00') },
    ]);
    const out = await c.check(plan);
    assert.deepEqual(out.conflicts, []);
    assert.equal(out.plan.tables[0]?.upserts.length, 2);
    assert.deepEqual(reads, [[[1n], [9n]]], 'one read for the table: the UPDATE key and the INSERT key');
  });

  test('sourceWins applies, targetWins skips; the record names table, key, images and the target row', async () => {
    const target = [tRow('1', 'b1', '2024-01-01 00:00:05')];
    const changes = [update(r(1n, 'a0', '2024-01-01 00:00:00'), r(1n, 'a1', '2024-01-01 00:00:09'))];
    const src = await checker({ policy: 'sourceWins', sitePriority: 0 }, target).c.check(planOf(changes));
    assert.equal(src.plan.tables[0]?.upserts.length, 1);
    assert.equal(src.conflicts.length, 1);
    const rec = src.conflicts[0]!;
    assert.equal(rec.table, 'db.t');
    assert.equal(rec.op, 'update');
    assert.deepEqual(rec.key, { id: '1' });
    assert.equal(rec.sourceBefore?.v, 'a0');
    assert.equal(rec.sourceAfter?.v, 'a1');
    assert.equal(rec.targetRow?.v, 'b1');
    assert.equal(rec.resolution, 'applied');
    const tgt = await checker({ policy: 'targetWins', sitePriority: 0 }, target).c.check(planOf(changes));
    assert.equal(tgt.plan.tables[0]?.upserts.length, 0);
    assert.equal(tgt.conflicts[0]?.resolution, 'skipped');
  });

  test('lastWriterWins compares the column of the source after image with the target row', async () => {
    const changes = [update(r(1n, 'a0', '2024-01-01 00:00:00'), r(1n, 'a1', '2024-01-01 00:00:09'))];
    const s = { policy: 'lastWriterWins' as const, column: 'ts', sitePriority: 0 };
    const older = await checker(s, [tRow('1', 'b1', '2024-01-01 00:00:05')]).c.check(planOf(changes));
    assert.equal(older.conflicts[0]?.resolution, 'applied');
    const newer = await checker(s, [tRow('1', 'b1', '2024-01-01 00:00:10.000001')]).c.check(planOf(changes));
    assert.equal(newer.conflicts[0]?.resolution, 'skipped');
    assert.equal(newer.plan.tables[0]?.upserts.length, 0);
    // A tie goes to site priority: the peer registered a higher one.
    const tie = await checker(s, [tRow('1', 'b1', '2024-01-01 00:00:09')], {
      pipeline: 'b_to_a',
      sitePriority: 5,
    }).c.check(planOf(changes));
    assert.equal(tie.conflicts[0]?.resolution, 'skipped');
    assert.match(tie.conflicts[0]?.reason ?? '', /equal.*site priority 0 vs 5/);
  });

  test('sitePriority: both directions reach opposite verdicts (the pair converges), names break ties', async () => {
    const changes = [update(r(1n, 'a0', 't'), r(1n, 'a1', 't'))];
    const target = [tRow('1', 'b1', 't')];
    const ab = await checker(
      { policy: 'sitePriority', sitePriority: 2 },
      target,
      { pipeline: 'b_to_a', sitePriority: 1 },
      'a_to_b',
    ).c.check(planOf(changes));
    const ba = await checker(
      { policy: 'sitePriority', sitePriority: 1 },
      target,
      { pipeline: 'a_to_b', sitePriority: 2 },
      'b_to_a',
    ).c.check(planOf(changes));
    assert.equal(ab.conflicts[0]?.resolution, 'applied');
    assert.equal(ba.conflicts[0]?.resolution, 'skipped');
    const tieAB = await checker(
      { policy: 'sitePriority', sitePriority: 0 },
      target,
      { pipeline: 'b_to_a', sitePriority: 0 },
      'a_to_b',
    ).c.check(planOf(changes));
    const tieBA = await checker(
      { policy: 'sitePriority', sitePriority: 0 },
      target,
      { pipeline: 'a_to_b', sitePriority: 0 },
      'b_to_a',
    ).c.check(planOf(changes));
    assert.notEqual(tieAB.conflicts[0]?.resolution, tieBA.conflicts[0]?.resolution);
  });

  test('DELETE: a changed target row conflicts, a row already gone does not; an UPDATE of a gone row does', async () => {
    const del: MappedChange = { kind: 'delete', target: T, before: r(1n, 'a0', 't') };
    const changed = await checker({ policy: 'targetWins', sitePriority: 0 }, [tRow('1', 'b1', 't')]).c.check(
      planOf([del]),
    );
    assert.equal(changed.conflicts[0]?.op, 'delete');
    assert.equal(changed.conflicts[0]?.sourceAfter, null);
    assert.equal(changed.plan.tables[0]?.deletes.length, 0);
    const gone = await checker({ policy: 'targetWins', sitePriority: 0 }, []).c.check(planOf([del]));
    assert.deepEqual(gone.conflicts, []);
    const upd = await checker({ policy: 'sourceWins', sitePriority: 0 }, []).c.check(
      planOf([update(r(1n, 'a0', 't'), r(1n, 'a1', 't'))]),
    );
    assert.equal(upd.conflicts[0]?.targetRow, null);
    assert.equal(upd.conflicts[0]?.resolution, 'applied');
  });

  const insert = (after: Row): MappedChange => ({ kind: 'insert', target: T, after });

  test('a re-sync copy of a row is never an insert conflict, also when later changes of the batch merge into it', async () => {
    const target = [tRow('1', 'stale', '2024-01-01 00:00:05'), tRow('2', 'stale', '2024-01-01 00:00:05')];
    const resynced: MappedChange = { kind: 'insert', target: T, after: r(1n, 'copy', 't'), resync: true };
    const thenUpdated: MappedChange[] = [
      { kind: 'insert', target: T, after: r(2n, 'copy', 't'), resync: true },
      { kind: 'update', target: T, before: r(2n, 'copy', 't'), after: r(2n, 'newer', 't') },
    ];
    const plan = planOf([resynced, ...thenUpdated]);
    assert.deepEqual(
      plan.tables[0]?.upserts.map((op) => [op.key[0], op.fromResync]),
      [
        [1n, true],
        [2n, true],
      ],
    );
    const out = await checker({ policy: 'targetWins', sitePriority: 0 }, target).c.check(plan);
    assert.deepEqual(out.conflicts, []);
    assert.equal(out.plan.tables[0]?.upserts.length, 2, 'both copies are written');
    // the same row as a source INSERT is a conflict (and skipped under targetWins)
    const asInsert = await checker({ policy: 'targetWins', sitePriority: 0 }, target).c.check(
      planOf([{ kind: 'insert', target: T, after: r(1n, 'copy', 't') }]),
    );
    assert.equal(asInsert.conflicts[0]?.resolution, 'skipped');
  });

  test('INSERT of a key the target holds with another row: an insert conflict, resolved by policy', async () => {
    const target = [tRow('1', 'b1', '2024-01-01 00:00:05')];
    const changes = [insert(r(1n, 'a1', '2024-01-01 00:00:09'))];
    const src = await checker({ policy: 'sourceWins', sitePriority: 0 }, target).c.check(planOf(changes));
    assert.equal(src.conflicts.length, 1);
    const rec = src.conflicts[0]!;
    assert.equal(rec.op, 'insert');
    assert.deepEqual(rec.key, { id: '1' });
    assert.equal(rec.sourceBefore, null, 'the source had no row');
    assert.equal(rec.sourceAfter?.v, 'a1');
    assert.equal(rec.targetRow?.v, 'b1');
    assert.equal(rec.resolution, 'applied');
    assert.equal(src.plan.tables[0]?.upserts.length, 1);
    const tgt = await checker({ policy: 'targetWins', sitePriority: 0 }, target).c.check(planOf(changes));
    assert.equal(tgt.conflicts[0]?.resolution, 'skipped');
    assert.equal(tgt.plan.tables[0]?.upserts.length, 0, 'the target row stays');
  });

  test('INSERT of the same row on both sides is no conflict (values compared by type)', async () => {
    const same = await checker({ policy: 'targetWins', sitePriority: 0 }, [
      tRow('1', 'a1', '2024-01-01 00:00:09.000000', 1.5),
    ]).c.check(planOf([insert(r(1n, 'a1', '2024-01-01 00:00:09', Math.fround(1.5)))]));
    assert.deepEqual(same.conflicts, []);
    assert.equal(same.plan.tables[0]?.upserts.length, 1);
    // One column differing is enough, even a case change.
    const cased = await checker({ policy: 'targetWins', sitePriority: 0 }, [
      tRow('1', 'A1', '2024-01-01 00:00:09'),
    ]).c.check(planOf([insert(r(1n, 'a1', '2024-01-01 00:00:09'))]));
    assert.equal(cased.conflicts[0]?.op, 'insert');
  });

  test('INSERT-INSERT: lastWriterWins and sitePriority give opposite verdicts per direction (both sites converge)', async () => {
    // Site A inserted (1, a, t=…05), site B (1, b, t=…09). a_to_b meets B's row, b_to_a meets A's.
    const rowA = r(1n, 'a', '2024-01-01 00:00:05');
    const rowB = r(1n, 'b', '2024-01-01 00:00:09');
    const lww = { policy: 'lastWriterWins' as const, column: 'ts', sitePriority: 0 };
    const onB = await checker(lww, [tRow('1', 'b', '2024-01-01 00:00:09')], undefined, 'a_to_b').c.check(
      planOf([insert(rowA)]),
    );
    const onA = await checker(lww, [tRow('1', 'a', '2024-01-01 00:00:05')], undefined, 'b_to_a').c.check(
      planOf([insert(rowB)]),
    );
    assert.equal(onB.conflicts[0]?.resolution, 'skipped');
    assert.equal(onA.conflicts[0]?.resolution, 'applied');
    assert.match(onB.conflicts[0]?.reason ?? '', /ts: source .*05 < target .*09/);
    const sp = (own: number, peer: number, name: string, peerName: string, t: TargetRow, row: Row) =>
      checker(
        { policy: 'sitePriority', sitePriority: own },
        [t],
        { pipeline: peerName, sitePriority: peer },
        name,
      ).c.check(planOf([insert(row)]));
    const spB = await sp(2, 1, 'a_to_b', 'b_to_a', tRow('1', 'b', 't'), rowA);
    const spA = await sp(1, 2, 'b_to_a', 'a_to_b', tRow('1', 'a', 't'), rowB);
    assert.equal(spB.conflicts[0]?.resolution, 'applied');
    assert.equal(spA.conflicts[0]?.resolution, 'skipped');
  });

  test('INSERTs are checked with the same single read; a key change into a taken key is an insert conflict', async () => {
    const { c, reads } = checker({ policy: 'targetWins', sitePriority: 0 }, [
      tRow('2', 'b2', 't'),
      tRow('5', 'b5', 't'),
    ]);
    const out = await c.check(
      planOf([
        insert(r(1n, 'a1', 't')),
        insert(r(2n, 'a2', 't')),
        insert(r(3n, 'a3', 't')),
        { kind: 'delete', target: T, before: r(3n, 'a3', 't') }, // I+D: nothing for the target to conflict with
        update(r(4n, 'a4', 't'), r(5n, 'a4', 't')), // the row moves to key 5, which B holds
      ]),
    );
    assert.equal(reads.length, 1, 'one read for the table');
    assert.deepEqual(
      reads[0]?.map((k) => k[0]),
      [4n, 1n, 2n, 5n],
      'the delete with a before image, then the upserts (not the I+D delete)',
    );
    assert.deepEqual(
      out.conflicts.map((x) => [x.op, x.key.id, x.resolution]),
      [
        ['insert', '2', 'skipped'],
        ['insert', '5', 'skipped'],
      ],
    );
    assert.deepEqual(
      out.plan.tables[0]?.upserts.map((u) => u.key[0]),
      [1n],
    );
  });

  test('FIELD mode compares only the columns the source changed', async () => {
    const change: MappedChange = {
      kind: 'update',
      target: T,
      before: r(1n, 'a0', 't0'),
      after: r(1n, 'a1', 't0'),
      changedColumns: ['v'],
    };
    // The target changed ts only: no conflict on v.
    const ok = await checker({ policy: 'targetWins', sitePriority: 0 }, [tRow('1', 'a0', 't9')]).c.check(
      planOf([change]),
    );
    assert.deepEqual(ok.conflicts, []);
    const clash = await checker({ policy: 'targetWins', sitePriority: 0 }, [tRow('1', 'zz', 't0')]).c.check(
      planOf([change]),
    );
    assert.equal(clash.conflicts.length, 1);
  });

  test('keys the target collation matched differently are still found (no false "gone")', async () => {
    const s: TableInfoSource = {
      get: async () => ({ ...info, keyColumns: ['v'], columnTypes: info.columnTypes }) as TargetTableInfo,
      invalidate: () => {},
    };
    const c = new ConflictChecker({
      pipeline: 'p',
      channel: 'ab',
      settings: { policy: 'targetWins', sitePriority: 0 },
      tables: s,
      reader: { read: async () => [{ id: '1', v: 'ABC', ts: 't', f: 1.5 }] },
      peer: async () => undefined,
      warn: () => {},
    });
    const m = new BatchMerger(() => ['v'], undefined, undefined, true);
    m.add({ kind: 'delete', target: T, before: r(1n, 'abc', 't') });
    const out = await c.check(m.drain());
    // Found (loosely) and different ('abc' vs 'ABC'): a conflict about a changed row, not a missing one.
    assert.equal(out.conflicts[0]?.targetRow?.v, 'ABC');
  });
});

describe('channel config', () => {
  const base = {
    name: 'p',
    source: 'a',
    target: 'b',
    mappings: [{ source: { schema: 'db', table: '/.*/' } }],
  };
  test('optional; defaults policy sourceWins and priority 0', () => {
    assert.equal(parsePipelineConfig(base).options.channel, undefined);
    const c = parsePipelineConfig({ ...base, options: { channel: { id: 'ab', conflict: {} } } });
    assert.deepEqual(c.options.channel, { id: 'ab', conflict: { policy: 'sourceWins', sitePriority: 0 } });
  });
  test('lastWriterWins needs a column; * is reserved', () => {
    const lww = validatePipelineConfig({
      ...base,
      options: { channel: { id: 'ab', conflict: { policy: 'lastWriterWins' } } },
    });
    assert.equal(lww.ok, false);
    assert.match(JSON.stringify(lww), /needs conflict.column/);
    assert.equal(validatePipelineConfig({ ...base, options: { channel: { id: '*' } } }).ok, false);
  });
});
