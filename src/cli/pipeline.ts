import type { Command } from 'commander';
import type { ConflictList } from '../service/conflicts'; // [bidirectional]
import type { PipelineStatusView } from '../service/pipeline-status';
import type { PipelineView } from '../service/pipelines';
import type { PipelineVerificationView } from '../service/verification-schedule-schemas';
import { apiClientFromEnv } from './api-client';
import { readDefinitionFile } from './datasource';
import { printJson, runCommand, table } from './output';

/** `otterflow pipeline …`: the pipeline API over HTTP, human output by default, --json for scripts. */
export function registerPipelineCommands(program: Command): void {
  const pl = program.command('pipeline').description('create, run and watch pipelines (through the API)');

  pl.command('create')
    .description('create a pipeline from a YAML or JSON file (does not start it)')
    .requiredOption('-f, --file <file>', 'pipeline definition (- for stdin); see docs/pipeline-config.md')
    .option('--json', 'print JSON')
    .action((o: { file: string; json?: boolean }) =>
      runCommand(o.json, async () => {
        const def = (await apiClientFromEnv().createPipeline(readDefinitionFile(o.file))) as {
          config: { name: string };
        };
        if (o.json) printJson(def);
        else
          console.log(
            `pipeline ${def.config.name} created; start it with: otterflow pipeline start ${def.config.name}`,
          );
      }),
    );

  pl.command('update')
    .description('replace a pipeline definition; a running pipeline takes it without losing its position')
    .requiredOption('-f, --file <file>', 'pipeline definition (- for stdin); its name says which pipeline')
    .option('--if-version <n>', 'only if the stored definition is still at this version (If-Match)')
    .option('--json', 'print JSON')
    .action((o: { file: string; ifVersion?: string; json?: boolean }) =>
      runCommand(o.json, async () => {
        const config = readDefinitionFile(o.file) as { name?: unknown };
        const name = typeof config?.name === 'string' ? config.name : '';
        if (!name) throw new Error(`${o.file}: the definition has no name`);
        const expected = o.ifVersion === undefined ? undefined : Number(o.ifVersion);
        if (expected !== undefined && !(Number.isInteger(expected) && expected >= 1))
          throw new Error(`--if-version must be a version number, not ${o.ifVersion}`);
        const r = (await apiClientFromEnv().updatePipeline(name, config, expected)) as {
          definition: { version: number };
          appliedToRunning: boolean;
        };
        if (o.json) printJson(r);
        else
          console.log(
            `pipeline ${name} updated to version ${r.definition.version}` +
              (r.appliedToRunning ? '; the running pipeline switched at a transaction boundary' : ''),
          );
      }),
    );

  pl.command('list')
    .description('list pipelines with their state')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const all = (await apiClientFromEnv().listPipelines()) as PipelineView[];
        if (o.json) return printJson(all);
        if (all.length === 0) return console.log('no pipelines');
        console.log(
          table([
            ['NAME', 'STATE', 'SOURCE → TARGET', 'REGION', 'WORKFLOW', 'SINCE'],
            ...all.map((p) => [
              p.name,
              p.workflow
                ? p.workflow.status === 'RUNNING'
                  ? (p.state ?? 'running')
                  : p.workflow.status.toLowerCase()
                : 'not started',
              p.definition
                ? `${p.definition.config.source} → ${p.definition.config.target}`
                : '(no definition)',
              p.definition?.config.region ?? '-',
              p.workflow?.workflowId ?? '-',
              p.workflow?.startTime ?? '-',
            ]),
          ]),
        );
      }),
    );

  pl.command('get <name>')
    .description('show a pipeline definition and its workflow')
    .option('--json', 'print JSON')
    .action((name: string, o: { json?: boolean }) =>
      runCommand(o.json, async () => {
        const p = (await apiClientFromEnv().getPipeline(name)) as PipelineView;
        if (o.json) return printJson(p);
        console.log(`pipeline ${p.name}`);
        if (p.workflow)
          console.log(
            `  workflow  ${p.workflow.workflowId} (${p.workflow.status}, since ${p.workflow.startTime})`,
          );
        else console.log('  workflow  not started');
        if (p.definition) {
          console.log(`  version   ${p.definition.version}, updated ${p.definition.updatedAt}`);
          console.log(
            JSON.stringify(p.definition.config, null, 2)
              .split('\n')
              .map((l) => `  ${l}`)
              .join('\n'),
          );
        }
      }),
    );

  pl.command('delete <name>')
    .description(
      'delete a pipeline definition (refused while it runs unless --force); its checkpoint is kept',
    )
    .option('--force', 'stop a running pipeline first')
    .option(
      '--drop-checkpoint',
      'also delete its checkpoint on the target (a new pipeline of that name starts over)',
    )
    .option('--json', 'print JSON')
    .action((name: string, o: { force?: boolean; dropCheckpoint?: boolean; json?: boolean }) =>
      runCommand(o.json, async () => {
        const r = (await apiClientFromEnv().deletePipeline(name, o.force, o.dropCheckpoint)) as {
          stopped: boolean;
          checkpoint: 'kept' | 'dropped' | 'none';
        };
        if (o.json) printJson(r);
        else {
          console.log(`pipeline ${name} deleted${r.stopped ? ' (stopped first)' : ''}`);
          console.log(
            r.checkpoint === 'kept'
              ? `its checkpoint stays on the target (otterflow.checkpoints): a pipeline created again as "${name}" resumes from it; delete with --drop-checkpoint to start over`
              : r.checkpoint === 'dropped'
                ? 'its checkpoint on the target was deleted'
                : 'it had no checkpoint on the target',
          );
        }
      }),
    );

  for (const action of ['start', 'pause', 'resume', 'stop'] as const) {
    pl.command(`${action} <name>`)
      .description(`${action} a pipeline`)
      .option('--json', 'print JSON')
      .action((name: string, o: { json?: boolean }) =>
        runCommand(o.json, async () => {
          const r = await apiClientFromEnv().pipelineAction(name, action);
          if (o.json) return printJson(r);
          if (action === 'start') {
            const w = r as { workflowId: string; runId: string };
            console.log(`pipeline ${name} started: workflow ${w.workflowId} (run ${w.runId})`);
          } else console.log(`pipeline ${name}: ${(r as PipelineStatusView).state}`);
        }),
      );
  }

  pl.command('status <name>')
    .description('position, lag, rows/s, rows applied, last error, worker')
    .option('--json', 'print JSON')
    .option('-w, --watch', 'refresh until interrupted')
    .option('--interval <seconds>', 'refresh interval with --watch', '2')
    .action((name: string, o: { json?: boolean; watch?: boolean; interval: string }) =>
      runCommand(o.json, async () => {
        const client = apiClientFromEnv();
        const every = Math.max(0.5, Number(o.interval) || 2) * 1000;
        for (;;) {
          const s = (await client.pipelineStatus(name)) as PipelineStatusView;
          if (o.json) process.stdout.write(`${JSON.stringify(s)}\n`);
          else {
            if (o.watch && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
            console.log(formatStatus(s));
          }
          if (!o.watch) return;
          await new Promise((r) => setTimeout(r, every));
        }
      }),
    );

  // [bidirectional] docs/bidirectional.md
  pl.command('conflicts <name>')
    .description('write conflicts of a channel pipeline (newest first), as recorded on its target')
    .option('-n, --limit <n>', 'how many (1-1000)', '50')
    .option('--json', 'print JSON')
    .action((name: string, o: { limit: string; json?: boolean }) =>
      runCommand(o.json, async () => {
        const r = await apiClientFromEnv().request<ConflictList>(
          'GET',
          `/v1/pipelines/${encodeURIComponent(name)}/conflicts?limit=${encodeURIComponent(o.limit)}`,
        );
        if (o.json) return printJson(r);
        console.log(`pipeline ${r.pipeline}: ${r.total} conflict(s) recorded on ${r.target}`);
        if (r.conflicts.length === 0) return;
        console.log(
          table([
            ['ID', 'AT', 'TABLE', 'OP', 'KEY', 'RESOLUTION', 'REASON'],
            ...r.conflicts.map((c) => [
              String(c.id),
              c.at,
              c.table,
              c.op,
              Object.entries(c.key)
                .map(([k, v]) => `${k}=${v}`)
                .join(','),
              c.resolution,
              c.reason,
            ]),
          ]),
        );
      }),
    );
}

/** The status as a few aligned lines for a person. */
export function formatStatus(s: PipelineStatusView): string {
  const lines: Array<[string, string]> = [
    ['state', s.state],
    ['workflow', s.workflow ? `${s.workflow.workflowId} (${s.workflow.status})` : '-'],
    [
      'position',
      s.position
        ? `${s.position.file}:${s.position.pos}${s.position.gtid ? `  gtid ${s.position.gtid}` : ''}`
        : '-',
    ],
    ['lag', s.lagMs !== undefined ? `${s.lagMs} ms` : '-'],
    ['rows/s', s.rowsPerSecond !== undefined ? String(s.rowsPerSecond) : '-'],
    ['rows applied', `${s.rowsApplied} (${s.transactions} transactions)`],
    ['region', s.region ? `${s.region} (task queue ${s.workflow?.taskQueue ?? '-'})` : '-'],
    ['worker', s.worker ?? '-'],
    ['pollers', s.pollers ? s.pollers.map((p) => p.identity).join(', ') || 'none' : '-'],
    [
      'last error',
      s.lastError
        ? `${s.lastError.message}${s.lastError.where ? ` at ${s.lastError.where}` : ''}${s.lastError.retryable ? ' (retrying)' : ''}`
        : '-',
    ],
  ];
  if (s.verification) lines.push(...verificationLines(s.verification));
  for (const w of s.warnings) lines.push(['warning', w]);
  return [`pipeline ${s.name}`, ...lines.map(([k, v]) => `  ${k.padEnd(13)} ${v}`)].join('\n');
}

/** The schedule and the newest verification, for the status lines. */
function verificationLines(v: PipelineVerificationView): Array<[string, string]> {
  const sch = v.schedule;
  const last = v.last;
  return [
    [
      'verify every',
      sch
        ? `${sch.every}${sch.tables ? ` (${sch.tables.join(', ')})` : ''}, ${sch.paused ? `paused${sch.note ? ` (${sch.note})` : ''}` : `next ${sch.nextRun ?? '-'}`}`
        : 'no schedule',
    ],
    [
      'last verify',
      last
        ? `${last.id} ${last.state}: ${last.differences} differences in ${last.rowsCompared} rows` +
          ` (${last.scheduled ? 'scheduled' : 'by hand'}${last.finishedAt ? `, finished ${last.finishedAt}` : ''})` +
          (last.lastError ? ` — ${last.lastError}` : '')
        : '-',
    ],
  ];
}
