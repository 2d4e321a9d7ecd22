import type { Command } from 'commander';
import type { BackfillStatus } from '../backfill/contract';
import type { BackfillView } from '../service/backfills';
import { apiClientFromEnv } from './api-client';
import { printJson, runCommand, table } from './output';

/** `otterflow backfill start|status|cancel`: backfills through the API (docs/backfill.md). */
export function registerBackfillCommands(program: Command): void {
  const bf = program
    .command('backfill')
    .description('initial loads and online re-syncs of a pipeline (through the API)');
  const collect = (v: string, all: string[]) => [...all, v];

  bf.command('start <pipeline>')
    .description(
      'start a re-sync of tables while the pipeline streams (or --initial: load every mapped table)',
    )
    .option('--initial', 'initial load of every mapped table')
    .option('-t, --table <schema.table>', 'source table to re-sync (repeat for more)', collect, [])
    .option(
      '-w, --where <condition>',
      're-sync only rows matching this SQL condition (checked by the source first)',
    )
    .option(
      '-k, --key <values>',
      're-sync this key (comma-separated values for a composite key; repeat)',
      collect,
      [],
    )
    .option('--chunk-size <rows>', 'rows per chunk', (v) => Number(v))
    .option('--parallelism <n>', 'initial load: chunks copied at once', (v) => Number(v))
    .option('--max-rows-per-second <n>', 'throttle', (v) => Number(v))
    .option(
      '--keep-indexes',
      "initial load: load with the target tables' secondary indexes on (default: rebuild them after)",
    )
    .option('--json', 'print JSON')
    .action(
      (
        pipeline: string,
        o: {
          initial?: boolean;
          table: string[];
          where?: string;
          key: string[];
          chunkSize?: number;
          parallelism?: number;
          maxRowsPerSecond?: number;
          keepIndexes?: boolean;
          json?: boolean;
        },
      ) =>
        runCommand(o.json, async () => {
          const body = {
            kind: o.initial ? 'initial' : 'resync',
            ...(o.table.length ? { tables: o.table } : {}),
            ...(o.where !== undefined ? { where: o.where } : {}),
            ...(o.key.length ? { keys: o.key.map((k) => k.split(',')) } : {}),
            ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
            ...(o.parallelism ? { parallelism: o.parallelism } : {}),
            ...(o.maxRowsPerSecond !== undefined ? { maxRowsPerSecond: o.maxRowsPerSecond } : {}),
            ...(o.keepIndexes ? { secondaryIndexes: 'keep' } : {}),
          };
          const view = await apiClientFromEnv().request<BackfillView>(
            'POST',
            `/v1/pipelines/${encodeURIComponent(pipeline)}/backfills`,
            body,
          );
          if (o.json) printJson(view);
          else
            console.log(`backfill ${view.id} started; watch it with: otterflow backfill status ${view.id}`);
        }),
    );

  bf.command('status <id-or-pipeline>')
    .description("a backfill's progress (by id), or the list of a pipeline's backfills (by pipeline name)")
    .option('--json', 'print JSON')
    .action((ref: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const api = apiClientFromEnv();
        if (!ref.includes('.')) {
          const all = await api.request<BackfillView[]>(
            'GET',
            `/v1/pipelines/${encodeURIComponent(ref)}/backfills`,
          );
          if (o.json) return printJson(all);
          if (all.length === 0) return console.log(`pipeline ${ref} has no backfills`);
          console.log(
            table([
              ['ID', 'STATUS', 'STARTED'],
              ...all.map((b) => [b.id, b.workflowStatus, b.startTime ?? '']),
            ]),
          );
          return;
        }
        const view = await api.request<BackfillView>('GET', `/v1/backfills/${encodeURIComponent(ref)}`);
        if (o.json) return printJson(view);
        const p = view.progress as BackfillStatus | undefined;
        console.log(`backfill ${view.id} (pipeline ${view.pipeline}): workflow ${view.workflowStatus}`);
        if (p) {
          const pct =
            p.estimatedRows > 0
              ? ` (~${Math.min(100, Math.round((p.rowsCopied * 100) / p.estimatedRows))}%)`
              : '';
          console.log(`  state      ${p.state}`);
          console.log(`  rows       ${p.rowsCopied} of ~${p.estimatedRows}${pct}`);
          console.log(`  chunks     ${p.chunksDone} of ${p.chunksTotal}`);
          console.log(
            `  rate       ${p.rowsPerSecond} rows/s${p.etaSeconds !== undefined ? `, ETA ${p.etaSeconds} s` : ''}`,
          );
          const ix = p.secondaryIndexes;
          if (ix && ix.deferred > 0)
            console.log(`  indexes    ${ix.restored} of ${ix.deferred} deferred secondary indexes rebuilt`);
          for (const kept of ix?.kept ?? []) console.log(`  kept       ${kept}`);
          const r = view.indexRebuild;
          if (r)
            console.log(
              `  rebuild    ${r.state || 'running'}${r.progressPercent !== undefined ? `, ${r.progressPercent}%` : ''}, ${r.seconds} s: ${r.statement}`,
            );
          if (p.lastError) console.log(`  error      ${p.lastError}`);
        }
      }),
    );

  bf.command('cancel <id>')
    .description('cancel a running backfill (chunks in flight roll back; done chunks stay done)')
    .option('--json', 'print JSON')
    .action((id: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const view = await apiClientFromEnv().request<BackfillView>(
          'POST',
          `/v1/backfills/${encodeURIComponent(id)}/cancel`,
        );
        if (o.json) printJson(view);
        else console.log(`backfill ${id}: cancel requested`);
      }),
    );
}
