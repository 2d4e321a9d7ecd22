import type { Command } from 'commander';
import type { ChannelVerifications, DecidedList } from '../service/channel-verifications';
import type { DifferenceList, VerificationView } from '../service/verifications';
import { apiClientFromEnv } from './api-client';
import { printJson, runCommand, table } from './output';
import { parseKeyBound, registerVerifyScheduleCommand } from './verify-schedule';

/** `otterflow verify start|status|diff|repair|cancel`: verifications through the API (docs/verification.md). */
export function registerVerifyCommands(program: Command): void {
  const vf = program
    .command('verify')
    .description(
      "compare a pipeline's target with its source, list the differences, repair them (through the API)",
    );

  vf.command('start [pipeline]')
    .description(
      'start a verification of a pipeline, or of both directions of a channel (--channel); prints its id (one per direction)',
    )
    .option('--channel <id>', 'verify every direction (pipeline) of this bidirectional channel')
    .option('--tables <list>', 'comma-separated SOURCE tables (schema.table); default: every mapped table')
    .option(
      '--where <condition>',
      'only source rows matching this SQL condition (checked by the source first)',
    )
    .option('--from <values>', 'first TARGET key compared (inclusive), comma-separated in key column order')
    .option('--to <values>', 'last TARGET key compared (inclusive), comma-separated in key column order')
    .option('--chunk-size <rows>', 'rows per chunk', (v) => Number(v))
    .option('--parallelism <n>', 'chunks compared at once', (v) => Number(v))
    .option('--max-rows-per-second <n>', 'throttle', (v) => Number(v))
    .option('--json', 'print JSON')
    .action(
      (
        pipeline: string | undefined,
        o: {
          channel?: string;
          tables?: string;
          where?: string;
          from?: string;
          to?: string;
          chunkSize?: number;
          parallelism?: number;
          maxRowsPerSecond?: number;
          json?: boolean;
        },
      ) =>
        runCommand(o.json, async () => {
          const body = {
            ...(o.tables
              ? {
                  tables: o.tables
                    .split(',')
                    .map((t) => t.trim())
                    .filter(Boolean),
                }
              : {}),
            ...(o.where !== undefined ? { where: o.where } : {}),
            ...(o.from !== undefined || o.to !== undefined
              ? {
                  keyRange: {
                    ...(o.from !== undefined ? { from: parseKeyBound(o.from) } : {}),
                    ...(o.to !== undefined ? { to: parseKeyBound(o.to) } : {}),
                  },
                }
              : {}),
            ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
            ...(o.parallelism ? { parallelism: o.parallelism } : {}),
            ...(o.maxRowsPerSecond !== undefined ? { maxRowsPerSecond: o.maxRowsPerSecond } : {}),
          };
          if ((pipeline === undefined) === (o.channel === undefined))
            throw new Error('name a pipeline or a channel (--channel ID), not both');
          if (o.channel !== undefined) {
            const started = await apiClientFromEnv().request<ChannelVerifications>(
              'POST',
              `/v1/channels/${encodeURIComponent(o.channel)}/verifications`,
              body,
            );
            if (o.json) printJson(started);
            else for (const v of started.verifications) console.log(v.id);
            return;
          }
          const view = await apiClientFromEnv().request<VerificationView>(
            'POST',
            `/v1/pipelines/${encodeURIComponent(pipeline as string)}/verifications`,
            body,
          );
          if (o.json) printJson(view);
          else console.log(view.id);
        }),
    );

  registerVerifyScheduleCommand(vf);

  vf.command('status <id>')
    .description("a verification's state (planning, comparing, then done, failed or cancelled) and counts")
    .option('--json', 'print JSON')
    .action((id: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const v = await apiClientFromEnv().request<VerificationView>(
          'GET',
          `/v1/verifications/${encodeURIComponent(id)}`,
        );
        if (o.json) return printJson(v);
        console.log(`verification ${v.id} (pipeline ${v.pipeline}): ${v.state}`);
        console.log(`  chunks       ${v.chunksDone} of ${v.chunksTotal}`);
        console.log(`  rows         ${v.rowsCompared} compared`);
        console.log(`  differences  ${v.differences}`);
        if (v.tables.length)
          console.log(
            table([
              [
                '  TABLE',
                'ROWS SOURCE',
                'ROWS TARGET',
                'MISSING',
                'EXTRA',
                'DIFFERENT',
                'UNSETTLED',
                ...(v.tables.some((t) => t.decidedByPolicy !== undefined) ? ['DECIDED BY POLICY'] : []),
              ],
              ...v.tables.map((t) => [
                `  ${t.table}`,
                String(t.rowsSource),
                String(t.rowsTarget),
                String(t.missing),
                String(t.extra),
                String(t.different),
                String(t.unsettled),
                ...(t.decidedByPolicy !== undefined ? [String(t.decidedByPolicy)] : []),
              ]),
            ]),
          );
        if (v.repair)
          console.log(
            `  repair       ${v.repair.state}: ${v.repair.requested} requested, ${v.repair.repaired} repaired, ${v.repair.remaining} remaining${v.repair.lastError ? ` (${v.repair.lastError})` : ''}`,
          );
        if (v.lastError) console.log(`  error        ${v.lastError}`);
      }),
    );

  vf.command('diff <id>')
    .description(
      'the differing keys: table, key, kind (missing, extra, different) and differing target columns',
    )
    .option('--json', 'print JSON: {"differences":[{"table","key","kind","columns"}]}')
    .option(
      '--decided',
      'channels: list instead the differing keys that a recorded conflict resolution explains (not differences)',
    )
    .action((id: string, o: { json?: boolean; decided?: boolean }) =>
      runCommand(o.json, async () => {
        const api = apiClientFromEnv();
        if (o.decided) return printDecided(id, o.json);
        const all: DifferenceList['differences'] = [];
        for (let offset = 0; ; offset += 10_000) {
          const page = await api.request<DifferenceList>(
            'GET',
            `/v1/verifications/${encodeURIComponent(id)}/differences?offset=${offset}&limit=10000`,
          );
          all.push(...page.differences);
          if (all.length >= page.total || page.differences.length === 0) break;
        }
        if (o.json) return printJson({ differences: all });
        if (all.length === 0) return console.log(`verification ${id}: no differences`);
        console.log(
          table([
            ['TABLE', 'KIND', 'KEY', 'COLUMNS'],
            ...all.map((d) => [d.table, d.kind, JSON.stringify(d.key), d.columns.join(',')]),
          ]),
        );
      }),
    );

  vf.command('repair <id>')
    .description(
      're-sync the differing keys through the pipeline (rows only on the target are deleted), then compare them again',
    )
    .option('--json', 'print JSON')
    .action((id: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const v = await apiClientFromEnv().request<VerificationView>(
          'POST',
          `/v1/verifications/${encodeURIComponent(id)}/repair`,
        );
        if (o.json) printJson(v);
        else console.log(`verification ${id}: repair started; follow it with: otterflow verify status ${id}`);
      }),
    );

  vf.command('cancel <id>')
    .description('cancel a running verification')
    .option('--json', 'print JSON')
    .action((id: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const v = await apiClientFromEnv().request<VerificationView>(
          'POST',
          `/v1/verifications/${encodeURIComponent(id)}/cancel`,
        );
        if (o.json) printJson(v);
        else console.log(`verification ${id}: cancel requested`);
      }),
    );
}

/** `verify diff ID --decided`: the keys of a channel verification that conflict resolution decided. */
async function printDecided(id: string, json: boolean | undefined): Promise<void> {
  const api = apiClientFromEnv();
  const all: DecidedList['decided'] = [];
  for (let offset = 0; ; offset += 10_000) {
    const page = await api.request<DecidedList>(
      'GET',
      `/v1/verifications/${encodeURIComponent(id)}/decided?offset=${offset}&limit=10000`,
    );
    all.push(...page.decided);
    if (all.length >= page.total || page.decided.length === 0) break;
  }
  if (json) return printJson({ decided: all });
  if (all.length === 0) return console.log(`verification ${id}: no keys decided by conflict resolution`);
  console.log(
    table([
      ['TABLE', 'KIND', 'KEY', 'COLUMNS', 'DECIDED BY'],
      ...all.map((d) => [
        d.table,
        d.kind,
        JSON.stringify(d.key),
        d.columns.join(','),
        d.conflicts.map((c) => `${c.site} #${c.conflictId} ${c.policy} ${c.resolution}`).join('; '),
      ]),
    ]),
  );
}
