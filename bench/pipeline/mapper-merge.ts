/**
 * Pipeline hot-path micro-benchmark: rows/s of map (compileMapper) + merge (BatchMerger) + drain,
 * the pure work the replicate activity does per row change between the decoder and the applier.
 *   node --import tsx bench/pipeline/mapper-merge.ts [--changes 1000000] [--rounds 3]
 * Input: a pool of 100,000 decoded row changes of an 8-column table (70% inserts, 20% updates of
 * recent rows, 10% deletes), cycled to reach --changes; batches are drained every 6000 changes (the
 * default batch size). Scenarios: identity mapping in ROW mode, a shard range into one table with an
 * exclude list and a filter, and FIELD mode with a column group. Best of --rounds per scenario.
 * Prints JSON. Not a test: figures vary from run to run on a shared machine.
 */
import {
  type CellValue,
  type ColumnDef,
  ColumnType,
  type RowChange,
  type TableSchema,
} from '../../src/binlog/types';
import { type PipelineConfigInput, parsePipelineConfig } from '../../src/pipeline/config';
import { compileMapper } from '../../src/pipeline/mapping/mapper';
import { BatchMerger } from '../../src/pipeline/merge';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : fallback;
}

const CHANGES = Number(arg('changes', '1000000'));
const ROUNDS = Number(arg('rounds', '3'));
const POOL = 100_000;
const BATCH = 6000;

function col(name: string, type: number, charset?: number): ColumnDef {
  return { name, type, meta: 0, nullable: true, unsigned: false, charset };
}

const columns: ColumnDef[] = [
  col('id', ColumnType.LONGLONG),
  col('customer_id', ColumnType.LONG),
  col('status', ColumnType.VARCHAR, 45),
  col('amount', ColumnType.NEWDECIMAL),
  col('created_at', ColumnType.DATETIME2),
  col('note', ColumnType.VARCHAR, 45),
  col('flags', ColumnType.TINY),
  col('payload', ColumnType.BLOB, 63),
];

function tableSchema(name: string): TableSchema {
  return { tableId: 1n, schema: 'shop', table: name, columns, primaryKey: [0] };
}

const shards = Array.from({ length: 4 }, (_, i) => tableSchema(`orders_0${i}`));
const statuses = ['new', 'paid', 'shipped', 'cancelled'];
const payload = Buffer.alloc(32, 7);

function image(id: number, version: number): CellValue[] {
  return [
    BigInt(id),
    id % 5000,
    statuses[(id + version) % 4] as string,
    `${id % 1000}.${String(id % 100).padStart(2, '0')}`,
    '2024-05-01 12:00:00.000000',
    `note ${version}`,
    version % 2,
    payload,
  ];
}

function buildPool(): RowChange[] {
  const pool: RowChange[] = [];
  const live: number[] = [];
  let nextId = 1;
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  for (let i = 0; i < POOL; i++) {
    const table = shards[i % shards.length] as TableSchema;
    const r = random();
    if (r < 0.7 || live.length < 100) {
      const id = nextId++;
      live.push(id);
      pool.push({ kind: 'insert', table, after: image(id, 0) });
    } else if (r < 0.9) {
      // recent rows, so that part of the updates merge with an insert of the same batch
      const id = live[live.length - 1 - Math.floor(random() * Math.min(live.length, 3000))] as number;
      pool.push({ kind: 'update', table, before: image(id, 0), after: image(id, 1) });
    } else {
      const at = live.length - 1 - Math.floor(random() * Math.min(live.length, 3000));
      const id = live[at] as number;
      live.splice(at, 1);
      pool.push({ kind: 'delete', table, before: image(id, 1) });
    }
  }
  return pool;
}

const scenarios: { name: string; mappings: PipelineConfigInput['mappings']; syncMode: 'ROW' | 'FIELD' }[] = [
  {
    name: 'ROW, identity mapping',
    syncMode: 'ROW',
    mappings: [{ source: { schema: 'shop', table: '/^orders_/' } }],
  },
  {
    name: 'ROW, shards into one table, exclude + filter',
    syncMode: 'ROW',
    mappings: [
      {
        source: { schema: 'shop', table: 'orders_[00-03]' },
        target: { schema: 'dw', table: 'orders' },
        columns: { exclude: ['payload', 'note'] },
        filter: {
          all: [
            { column: 'status', op: '!=', value: 'cancelled' },
            { column: 'amount', op: '>=', value: '1.5' },
          ],
        },
      },
    ],
  },
  {
    name: 'FIELD, column group',
    syncMode: 'FIELD',
    mappings: [
      {
        source: { schema: 'shop', table: 'orders_[00-03]' },
        columns: { groups: [['status', 'amount']] },
      },
    ],
  },
];

function run(pool: RowChange[], scenario: (typeof scenarios)[number]) {
  const config = parsePipelineConfig({
    name: 'bench',
    source: 'a',
    target: 'b',
    mappings: scenario.mappings,
    options: { syncMode: scenario.syncMode, batchSize: BATCH },
  });
  const mapper = compileMapper(config);
  const merger = new BatchMerger(
    () => ['id'],
    (t) => mapper.weightOf(t),
  );
  let ops = 0;
  let mapped = 0;
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  for (let i = 0; i < CHANGES; i++) {
    const out = mapper.map(pool[i % POOL] as RowChange);
    mapped += out.length;
    merger.addAll(out);
    if (merger.changeCount() >= BATCH) {
      for (const t of merger.drain().tables) ops += t.deletes.length + t.upserts.length;
    }
  }
  for (const t of merger.drain().tables) ops += t.deletes.length + t.upserts.length;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return { seconds, cpuSeconds: (used.user + used.system) / 1e6, mapped, ops };
}

function main() {
  const pool = buildPool();
  const results = scenarios.map((s) => {
    let best: ReturnType<typeof run> | undefined;
    for (let r = 0; r < ROUNDS; r++) {
      const result = run(pool, s);
      if (!best || result.seconds < best.seconds) best = result;
    }
    const b = best as ReturnType<typeof run>;
    return {
      scenario: s.name,
      changes: CHANGES,
      seconds: Number(b.seconds.toFixed(3)),
      // CPU of the whole process during the best round (GC threads included): steadier than wall on a busy machine
      cpuSeconds: Number(b.cpuSeconds.toFixed(3)),
      rowsPerSecond: Math.round(CHANGES / b.seconds),
      mappedChanges: b.mapped,
      mergedOps: b.ops,
    };
  });
  console.log(
    JSON.stringify(
      { benchmark: 'pipeline map+merge', node: process.version, rounds: ROUNDS, results },
      null,
      2,
    ),
  );
}

main();
