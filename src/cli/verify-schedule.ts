import type { Command } from 'commander';
import type { VerificationScheduleView } from '../service/verification-schedule-schemas';
import { apiClientFromEnv } from './api-client';
import { printJson, runCommand, table } from './output';

/** `--from 10,abc`: the values of a key bound, as text (the server compares them as the key's types). */
export function parseKeyBound(text: string): string[] {
  return text.split(',').map((v) => v.trim());
}

/** `--tables a.b,c.d` as a list. */
export function parseTableList(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

interface ScheduleOptions {
  every?: string;
  tables?: string;
  where?: string;
  from?: string;
  to?: string;
  chunkSize?: number;
  parallelism?: number;
  maxRowsPerSecond?: number;
  pause?: boolean;
  resume?: boolean;
  show?: boolean;
  delete?: boolean;
  runNow?: boolean;
  json?: boolean;
}

/** `otterflow verify schedule PIPELINE …`: a pipeline's verification schedule through the API. */
export function registerVerifyScheduleCommand(vf: Command): void {
  vf.command('schedule <pipeline>')
    .description(
      'set (--every), show (--show), run now (--run-now) or delete (--delete) the verification schedule of a pipeline',
    )
    .option('--every <duration>', 'how often: 6h, 30m, 1d, 1h30m (at least 5m); replaces the schedule')
    .option('--tables <list>', 'comma-separated SOURCE tables (schema.table); default: every mapped table')
    .option('--where <condition>', 'only source rows matching this SQL condition')
    .option('--from <values>', 'first TARGET key compared (inclusive), comma-separated in key column order')
    .option('--to <values>', 'last TARGET key compared (inclusive), comma-separated in key column order')
    .option('--chunk-size <rows>', 'rows per chunk', (v) => Number(v))
    .option('--parallelism <n>', 'chunks compared at once', (v) => Number(v))
    .option('--max-rows-per-second <n>', 'throttle', (v) => Number(v))
    .option('--pause', 'keep the schedule paused')
    .option('--resume', 'run the schedule even while the pipeline is stopped')
    .option('--show', 'show the schedule, its next run times and recent runs')
    .option('--delete', 'delete the schedule')
    .option('--run-now', 'run the scheduled verification now')
    .option('--json', 'print JSON')
    .action((pipeline: string, o: ScheduleOptions) =>
      runCommand(o.json, async () => {
        const api = apiClientFromEnv();
        const path = `/v1/pipelines/${encodeURIComponent(pipeline)}/verification-schedule`;
        if (o.delete) {
          await api.request<void>('DELETE', path);
          if (o.json) printJson({ deleted: pipeline });
          else console.log(`verification schedule of ${pipeline} deleted`);
          return;
        }
        let view: VerificationScheduleView;
        if (o.show) view = await api.request('GET', path);
        else if (o.runNow) view = await api.request('POST', `${path}/trigger`);
        else {
          if (!o.every)
            throw new Error('say how often with --every (e.g. --every 6h), or use --show or --delete');
          const keyRange = {
            ...(o.from !== undefined ? { from: parseKeyBound(o.from) } : {}),
            ...(o.to !== undefined ? { to: parseKeyBound(o.to) } : {}),
          };
          view = await api.request('PUT', path, {
            every: o.every,
            ...(o.tables ? { tables: parseTableList(o.tables) } : {}),
            ...(o.where !== undefined ? { where: o.where } : {}),
            ...(Object.keys(keyRange).length ? { keyRange } : {}),
            ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
            ...(o.parallelism ? { parallelism: o.parallelism } : {}),
            ...(o.maxRowsPerSecond !== undefined ? { maxRowsPerSecond: o.maxRowsPerSecond } : {}),
            ...(o.pause ? { paused: true } : o.resume ? { paused: false } : {}),
          });
        }
        if (o.json) return printJson(view);
        console.log(formatSchedule(view));
      }),
    );
}

/** The schedule as a few lines for a person. */
export function formatSchedule(v: VerificationScheduleView): string {
  const lines = [
    `verification schedule of ${v.pipeline}: every ${v.every}${v.paused ? `, paused${v.note ? ` (${v.note})` : ''}` : ''}`,
    `  tables     ${v.tables?.join(', ') ?? 'every mapped table'}`,
    ...(v.where !== undefined ? [`  where      ${v.where}`] : []),
    ...(v.keyRange
      ? [`  key range  ${v.keyRange.from?.join(',') ?? '(start)'} .. ${v.keyRange.to?.join(',') ?? '(end)'}`]
      : []),
    `  next runs  ${v.nextRuns.slice(0, 3).join(', ') || '-'}`,
    ...(v.running ? ['  running    a run is comparing now'] : []),
  ];
  if (v.recentRuns.length)
    lines.push(
      table([
        ['  SCHEDULED', 'VERIFICATION', 'STATE'],
        ...v.recentRuns.map((r) => [`  ${r.scheduledAt}`, r.verificationId ?? '-', r.state ?? '-']),
      ]),
    );
  return lines.join('\n');
}
