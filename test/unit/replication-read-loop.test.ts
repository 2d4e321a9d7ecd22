import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventHeader } from '../../src/binlog/event-header';
import type { BinlogEvent } from '../../src/binlog/events';
import {
  type BinlogPosition,
  type ColumnDef,
  ColumnType,
  type RowChange,
  type TableSchema,
} from '../../src/binlog/types';
import { parsePipelineConfig } from '../../src/pipeline/config';
import { compileMapper } from '../../src/pipeline/mapping/mapper';
import type { MappedChange } from '../../src/pipeline/model';
import { BatchCommitter } from '../../src/replication/committer';
import type { DdlOutcome } from '../../src/replication/ddl-handler';
import { PipelineHaltError } from '../../src/replication/errors';
import { type GateItem, HookList, type ReplicationHooks, type SourceGate } from '../../src/replication/hooks';
import { ReadLoop, type SourceEvent, type SourceEvents } from '../../src/replication/read-loop';
import { RunReport } from '../../src/replication/run-report';
import { FakeTargetSession } from '../helpers/fake-target';

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
  columns: [col('id', ColumnType.LONGLONG), col('v', ColumnType.VARCHAR)],
  primaryKey: [0],
};
const header = (eventSize: number) => ({ eventSize }) as EventHeader;
const ins = (id: number, v = `v${id}`): RowChange => ({
  kind: 'insert',
  table: items,
  after: [BigInt(id), v],
});

/** A scripted source: transactions of row inserts, DDL statements; the backlog is what is left. */
class Script {
  readonly events: SourceEvent[] = [];
  private pos = 4;

  tx(...rows: RowChange[]): this {
    this.events.push({ event: rowsEvent(rows), file: 'b.1', pos: this.pos, commit: undefined });
    this.pos += 100;
    this.events.push({
      event: { kind: 'xid', xid: 1n, header: header(31) },
      file: 'b.1',
      pos: this.pos,
      commit: this.at(31),
    });
    return this;
  }

  ddl(sql: string): this {
    const event: BinlogEvent = {
      kind: 'query',
      schema: 'shop',
      query: sql,
      statement: 'ddl',
      threadId: 1,
      execTime: 0,
      errorCode: 0,
      header: header(60),
    };
    this.events.push({ event, file: 'b.1', pos: this.pos, commit: this.at(60) });
    return this;
  }

  /** Positions of the transaction ends, in order. */
  commits(): number[] {
    return this.events.flatMap((e) => (e.commit ? [e.commit.pos] : []));
  }

  source(): SourceEvents {
    const list = this.events;
    let i = 0;
    return {
      backlog: () => list.length - i,
      async *[Symbol.asyncIterator]() {
        while (i < list.length) yield list[i++] as SourceEvent;
      },
    };
  }

  private at(size: number): BinlogPosition {
    this.pos += size;
    return { file: 'b.1', pos: this.pos };
  }
}

function rowsEvent(rows: RowChange[]): BinlogEvent {
  return { kind: 'rows', change: 'insert', version: 1, table: items, flags: 1, rows, header: header(100) };
}

interface RunOptions {
  batchSize?: number;
  hooks?: ReplicationHooks[];
  signal?: AbortSignal;
  ddl?: (sql: string) => DdlOutcome;
  prepare?: (session: FakeTargetSession) => void;
}

async function run(script: Script, o: RunOptions = {}) {
  const config = parsePipelineConfig({
    name: 'p',
    source: 's',
    target: 't',
    mappings: [{ source: { schema: 'shop', table: 'items' }, target: { schema: 'copy' } }],
    options: { batchSize: o.batchSize ?? 1000, maxBatchDelayMs: 60_000 },
  });
  const session = new FakeTargetSession();
  o.prepare?.(session);
  const claim = await session.checkpoint.claim(async () => ({ file: 'b.1', pos: 4 }));
  session.log.length = 0;
  const report = new RunReport('test');
  const hooks = new HookList(o.hooks ?? []);
  const committer = new BatchCommitter({
    pipeline: 'p',
    session,
    epoch: claim.epoch,
    options: config.options,
    hooks,
    report,
  });
  const ddlCalls: string[] = [];
  const loop = new ReadLoop({
    config,
    events: script.source(),
    mapper: compileMapper(config),
    tables: session.tables,
    committer,
    hooks,
    ddl: {
      handle: async (_schema, sql) => {
        ddlCalls.push(sql);
        session.log.push(`ddl-step ${sql}`);
        return o.ddl?.(sql) ?? { applied: true, invalidated: [] };
      },
    },
    report,
    deadline: Date.now() + 60_000,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  const outcome = await loop.run().then(
    () => undefined,
    (err: unknown) => err,
  );
  return { session, report, ddlCalls, outcome };
}

test('small transactions are batched until batchSize, cut on transaction boundaries, and the last commits when caught up', async () => {
  const s = new Script().tx(ins(1)).tx(ins(2), ins(3)).tx(ins(4)).tx(ins(5));
  const { session, report, outcome } = await run(s, { batchSize: 3 });
  assert.equal(outcome, undefined);
  const [, second, , fourth] = s.commits();
  const fences = session.log.filter((l) => l.startsWith('fence'));
  assert.deepEqual(
    fences,
    [`fence 1 b.1:${second}`, `fence 1 b.1:${fourth}`],
    'one batch per fill, none mid-transaction',
  );
  assert.equal(session.checkpointPosition?.pos, fourth);
  assert.deepEqual(Object.keys(session.tableRows('copy', 'items')), ['1', '2', '3', '4', '5']);
  assert.equal(report.transactions, 4);
  assert.equal(report.sourceChanges, 5);
  assert.equal(report.batches, 2);
});

test('a source transaction that alone outgrows a batch is applied in slices inside one target transaction', async () => {
  const s = new Script().tx(...[1, 2, 3, 4, 5, 6, 7].map((i) => ins(i)));
  const { session } = await run(s, { batchSize: 3 });
  const end = s.commits()[0];
  assert.deepEqual(session.log, [
    'begin',
    'fence 1',
    'apply copy.items[-0 +3]',
    'apply copy.items[-0 +3]',
    'apply copy.items[-0 +1]',
    `checkpoint b.1:${end}`,
    'commit',
  ]);
  assert.equal(Object.keys(session.tableRows('copy', 'items')).length, 7);
});

test('a batch that fills up in the middle of small transactions waits for the end of the transaction: no slice', async () => {
  const s = new Script().tx(ins(1), ins(2)).tx(ins(3), ins(4)).tx(ins(5), ins(6));
  const { session } = await run(s, { batchSize: 3 });
  assert.ok(!session.log.includes('fence 1'), `no slice expected:\n${session.log.join('\n')}`);
  assert.equal(Object.keys(session.tableRows('copy', 'items')).length, 6);
});

test('a DDL commits what came before, runs alone, and its position is checkpointed at once', async () => {
  const s = new Script().tx(ins(1)).ddl('ALTER TABLE items ADD COLUMN w INT').tx(ins(2));
  const { session, ddlCalls, report } = await run(s);
  const [first, ddlAt, last] = s.commits();
  assert.deepEqual(ddlCalls, ['ALTER TABLE items ADD COLUMN w INT']);
  const i = session.log.indexOf('ddl-step ALTER TABLE items ADD COLUMN w INT');
  assert.deepEqual(session.log.slice(0, i), [
    'begin',
    `fence 1 b.1:${first}`,
    'apply copy.items[-0 +1]',
    'commit',
  ]);
  assert.deepEqual(session.log.slice(i + 1, i + 3), ['begin', `fence 1 b.1:${ddlAt}`]);
  assert.equal(session.checkpointPosition?.pos, last);
  assert.equal(report.ddlApplied, 1);
});

test('a gate drops whole transactions; a dropped transaction alone opens no target transaction', async () => {
  let dropped = 0;
  const held: GateItem[] = [];
  let drop = false;
  const gate: SourceGate = {
    offer: (it) => {
      if (it.change.kind !== 'delete' && it.change.after[1] === 'mark') drop = true;
      held.push(it);
      return [];
    },
    endTransaction: () => {
      const release = drop ? [] : held.splice(0);
      const v = { release, dropped: drop, lateMark: false };
      held.length = 0;
      drop = false;
      return v;
    },
  };
  const hook: ReplicationHooks = { gate, sourceTransactionDropped: () => dropped++ };
  const s = new Script().tx(ins(1)).tx(ins(2), ins(3, 'mark'));
  const { session, report } = await run(s, { hooks: [hook] });
  assert.deepEqual(Object.keys(session.tableRows('copy', 'items')), ['1']);
  assert.equal(dropped, 1);
  assert.equal(report.transactions, 1, 'a dropped transaction is not counted as replicated');
  assert.equal(session.log.filter((l) => l === 'apply copy.items[-0 +1]').length, 1);
  // The run's end still moves the checkpoint past the dropped transaction, with no rows.
  assert.equal(session.checkpointPosition?.pos, s.commits()[1]);
});

test('rows a hook joins at a row go into the batch before it, and the batch it asked for commits inline with its records', async () => {
  let wants = false;
  const seen: string[] = [];
  const hook: ReplicationHooks = {
    onRow: (change) => {
      if (change.kind === 'insert' && change.after[0] === 2n) {
        wants = true;
        const joined: MappedChange = {
          kind: 'insert',
          target: { schema: 'copy', table: 'items' },
          after: new Map<string, unknown>([
            ['id', 100n],
            ['v', 'joined'],
          ]) as never,
        } as MappedChange;
        return [joined];
      }
      return undefined;
    },
    wantsCommit: () => wants,
    beforeCommit: async (_s, b) => {
      seen.push(`beforeCommit wanted=${b.wantedBy.has(hook)}`);
    },
    afterCommit: (b) => {
      if (b.wantedBy.has(hook)) wants = false;
    },
  };
  const s = new Script().tx(ins(1)).tx(ins(2));
  const { session } = await run(s, { hooks: [hook] });
  assert.deepEqual(Object.keys(session.tableRows('copy', 'items')).sort(), ['1', '100', '2']);
  assert.ok(seen.includes('beforeCommit wanted=true'));
  assert.equal(wants, false);
});

test('a target table that does not exist stops the pipeline naming it; nothing is committed', async () => {
  const s = new Script().tx(ins(1));
  const { outcome, session } = await run(s, { prepare: (t) => t.missingTables.add('copy.items') });
  assert.ok(outcome instanceof PipelineHaltError);
  assert.match(
    (outcome as Error).message,
    /target table copy\.items does not exist: create it on the target/,
  );
  assert.equal((outcome as PipelineHaltError).where, 'copy.items');
  assert.equal(session.checkpointPosition?.pos, 4);
  assert.deepEqual(session.tableRows('copy', 'items'), {});
});

test('an abort rolls back the open transaction and leaves the checkpoint where it was', async () => {
  const controller = new AbortController();
  const s = new Script().tx(...[1, 2, 3, 4].map((i) => ins(i))).tx(ins(5));
  const hook: ReplicationHooks = {
    transactionOpened: async () => controller.abort(),
  };
  const { session } = await run(s, { batchSize: 2, hooks: [hook], signal: controller.signal });
  assert.equal(session.checkpointPosition?.pos, 4);
  assert.deepEqual(session.tableRows('copy', 'items'), {});
  assert.ok(session.log.includes('rollback'));
});
