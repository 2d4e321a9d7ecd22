import { randomBytes } from 'node:crypto';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { openSourceReader, readSourceTable } from '../backfill/source-table';
import { InvalidWhereError, validateWhere } from '../backfill/where-check';
import type { CellValue } from '../binlog/types';
import type { PipelineRepository } from '../catalog/types';
import { taskQueueFor } from '../config/regions';
import { verificationConnectorFor } from '../connectors/registry';
import type { VerificationConnector, VerificationTargetSession } from '../connectors/verification-target';
import type { PipelineConfig } from '../pipeline/config';
import { compileMapper } from '../pipeline/mapping/mapper';
import { type TableRef, tableKey } from '../pipeline/model';
import { readDecided, withDecidedCounts } from '../verification/channel-report';
import {
  type KeyRange,
  REPAIR_WORKFLOW_TYPE,
  repairWorkflowId,
  VERIFICATION_ID_PATTERN,
  VERIFICATION_WORKFLOW_TYPE,
  type VerificationInput,
  type VerificationStatus,
  verificationStatusQuery,
  verificationWorkflowId,
} from '../verification/contract';
import { keyColumnTypes, keyRangeProblems } from '../verification/key-range';
import { loadComparison, targetsToVerify } from '../verification/planner';
import { readDifferences, readReport } from '../verification/report-store';
import { ComparisonPlanError } from '../verification/table-plan';
import { OTTERFLOW_KIND, OTTERFLOW_PIPELINE, OTTERFLOW_STATUS } from '../workflows/search-attributes';
import { channelDirectionOf, startChannelVerifications } from './channel-directions';
import type { ChannelVerifications, DecidedList } from './channel-verifications';
import { unreachable } from './connectivity';
import type { DatasourceService } from './datasources';
import { parseName } from './names';
import { notFound, ServiceError } from './problems';

const tableNameSchema = z
  .string()
  .regex(/^[^.`\s]+\.[^.`\s]+$/, 'write tables as schema.table')
  .meta({ description: 'a SOURCE table, schema.table' });

const keyBoundSchema = z
  .array(z.union([z.string().max(1000), z.number()]))
  .min(1)
  .max(16)
  .meta({ description: 'one value per TARGET key column, in the key’s column order' });

const keyRangeSchema = z
  .object({
    from: keyBoundSchema.optional().meta({ description: 'the first key compared (inclusive)' }),
    to: keyBoundSchema.optional().meta({ description: 'the last key compared (inclusive)' }),
  })
  .strict()
  .meta({
    description:
      'only TARGET keys in this range, on both sides (rows only on the target inside it are found as extra)',
  });

/** What POST /v1/pipelines/:name/verifications accepts. */
export const verificationRequestSchema = z
  .object({
    tables: z.array(tableNameSchema).min(1).max(1000).optional().meta({
      description: 'source tables to verify (default: every mapped table); merged shards are compared whole',
    }),
    where: z.string().min(1).max(10_000).optional().meta({
      description:
        'only source rows matching this condition (source column names); rows only on the target are then not looked for',
    }),
    keyRange: keyRangeSchema.optional(),
    chunkSize: z.number().int().min(1).max(100_000).optional(),
    parallelism: z.number().int().min(1).max(32).optional(),
    maxRowsPerSecond: z.number().int().min(0).max(100_000_000).optional(),
    catchUpSeconds: z.number().int().min(1).max(3600).optional().meta({
      description:
        'how long a differing chunk waits for the pipeline to apply what the source showed (default 120)',
    }),
  })
  .strict()
  .meta({ id: 'VerificationRequest' });

const tableViewSchema = z.object({
  table: z.string(),
  sources: z.array(z.string()),
  chunks: z.number(),
  chunksDone: z.number(),
  rowsSource: z.number(),
  rowsTarget: z.number(),
  missing: z.number(),
  extra: z.number(),
  different: z.number(),
  unsettled: z
    .number()
    .meta({ description: 'keys that kept changing on the source through every re-compare' }),
  decidedByPolicy: z.number().optional().meta({
    description:
      'channels: differing keys that a recorded conflict resolution explains (listed under /decided, not differences)',
  }),
});

export const verificationViewSchema = z
  .object({
    id: z.string(),
    pipeline: z.string(),
    workflowId: z.string(),
    workflowStatus: z.string(),
    state: z.enum(['planning', 'comparing', 'done', 'failed', 'cancelled']),
    chunksTotal: z.number(),
    chunksDone: z.number(),
    rowsCompared: z.number(),
    differences: z.number(),
    tables: z.array(tableViewSchema),
    repair: z
      .object({
        state: z.enum(['running', 'done', 'failed']),
        requested: z.number(),
        repaired: z.number(),
        remaining: z.number(),
        lastError: z.string().optional(),
        startedAt: z.string(),
        finishedAt: z.string().optional(),
      })
      .optional(),
    lastError: z.string().optional(),
    startedAt: z.string().optional(),
    finishedAt: z.string().optional(),
  })
  .meta({ id: 'Verification' });

export type VerificationView = z.infer<typeof verificationViewSchema>;

export const differencesQuerySchema = z.object({
  offset: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional().meta({ description: 'default 1000' }),
});

export const differenceListSchema = z
  .object({
    total: z.number(),
    offset: z.number(),
    limit: z.number(),
    differences: z.array(
      z.object({
        table: z.string().meta({ description: 'target table, schema.table' }),
        key: z.record(z.string(), z.unknown()).meta({ description: 'target key columns and values' }),
        kind: z.enum(['missing', 'extra', 'different']),
        columns: z.array(z.string()).meta({ description: 'different: the target columns that differ' }),
        repair: z.enum(['repaired', 'remaining']).optional(),
      }),
    ),
  })
  .meta({ id: 'VerificationDifferences' });

export type DifferenceList = z.infer<typeof differenceListSchema>;

export interface VerificationServiceDeps {
  store: PipelineRepository;
  datasources: DatasourceService;
  client: Client;
  taskQueue: string;
}

/**
 * Verifications of a pipeline: start (checked first: pipeline, tables, condition, mappings), watch,
 * list differences, repair, cancel. The work runs in `verificationWorkflow`; the report is read from
 * the pipeline's target (src/verification/report-store.ts).
 */
export class VerificationService {
  constructor(private readonly deps: VerificationServiceDeps) {}

  async start(rawPipeline: string, body: unknown): Promise<VerificationView> {
    const name = parseName('pipeline', rawPipeline);
    const def = await this.deps.store.get(name);
    if (!def) throw notFound('pipeline', name);
    return this.launch(await this.prepare(def.config, body));
  }

  /**
   * Checks a request for one pipeline and builds its workflow input (nothing started). A pipeline of
   * a channel with its opposite pipeline defined is verified as one direction of the channel.
   */
  async prepare(config: PipelineConfig, body: unknown, tag = randomBytes(4).toString('hex')) {
    const name = config.name;
    const parsed = verificationRequestSchema.safeParse(body ?? {});
    if (!parsed.success)
      throw new ServiceError(
        'invalid-request',
        `verification request is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      );
    const req = parsed.data;
    const tables = req.tables?.map((t) => {
      const [schema = '', table = ''] = t.split('.');
      return { schema, table };
    });
    await this.check(config, tables, req.where, req.keyRange);
    const channel = await channelDirectionOf(this.deps.store, config);
    const input: VerificationInput = {
      id: `${name}.verify-${tag}`,
      config,
      ...(channel ? { channel } : {}),
      ...(tables ? { tables } : {}),
      ...(req.where !== undefined ? { where: req.where } : {}),
      ...(req.keyRange ? { keyRange: req.keyRange } : {}),
      ...(req.chunkSize ? { chunkSize: req.chunkSize } : {}),
      ...(req.parallelism ? { parallelism: req.parallelism } : {}),
      ...(req.maxRowsPerSecond ? { maxRowsPerSecond: req.maxRowsPerSecond } : {}),
      ...(req.catchUpSeconds ? { catchUpSeconds: req.catchUpSeconds } : {}),
    };
    return input;
  }

  /** Starts a prepared verification. */
  async launch(input: VerificationInput): Promise<VerificationView> {
    const { id, config } = input;
    const name = config.name;
    const handle = await this.deps.client.workflow.start(VERIFICATION_WORKFLOW_TYPE, {
      taskQueue: taskQueueFor(this.deps.taskQueue, config.region),
      workflowId: verificationWorkflowId(id),
      workflowIdConflictPolicy: 'FAIL',
      args: [input],
      typedSearchAttributes: [
        { key: OTTERFLOW_KIND, value: 'verification' },
        { key: OTTERFLOW_PIPELINE, value: name },
        { key: OTTERFLOW_STATUS, value: 'planning' },
      ],
    });
    return {
      id,
      pipeline: name,
      workflowId: handle.workflowId,
      workflowStatus: 'RUNNING',
      state: 'planning',
      chunksTotal: 0,
      chunksDone: 0,
      rowsCompared: 0,
      differences: 0,
      tables: [],
    };
  }

  /** Starts a verification of every direction of a channel (channel-verifications.ts). */
  startChannel(rawId: string, body: unknown): Promise<ChannelVerifications> {
    return startChannelVerifications(this.deps.store, this, rawId, body);
  }

  /** One verification: the report on the target, with the workflow's state. */
  async get(rawId: string): Promise<VerificationView> {
    const id = parseVerificationId(rawId);
    const handle = this.deps.client.workflow.getHandle(verificationWorkflowId(id));
    let described: Awaited<ReturnType<typeof handle.describe>>;
    try {
      described = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw notFound('verification', id);
      throw err;
    }
    const pipeline = described.typedSearchAttributes.get(OTTERFLOW_PIPELINE) ?? pipelineOf(id);
    const running = described.status.name === 'RUNNING';
    let report: VerificationStatus | undefined = await this.withTarget(pipeline, async (c) => {
      const r = await readReport(c, id);
      // Keys decided by a conflict policy: channels, MySQL/MariaDB targets only.
      const mysqlTarget = c.checksumConnection;
      return (
        r && { ...r, tables: mysqlTarget ? await withDecidedCounts(mysqlTarget, id, r.tables) : r.tables }
      );
    }).catch(() => undefined);
    if (!report && running)
      report = await this.deps.client
        .withDeadline(Date.now() + 10_000, () => handle.query(verificationStatusQuery))
        .catch(() => undefined);
    let state = report?.state ?? (running ? 'planning' : 'failed');
    // A workflow that ended without writing its end (terminated): the report cannot say done.
    if (!running && (state === 'planning' || state === 'comparing'))
      state = described.status.name === 'CANCELLED' ? 'cancelled' : 'failed';
    return {
      id,
      pipeline,
      workflowId: described.workflowId,
      workflowStatus: described.status.name,
      state,
      chunksTotal: report?.chunksTotal ?? 0,
      chunksDone: report?.chunksDone ?? 0,
      rowsCompared: report?.rowsCompared ?? 0,
      differences: report?.differences ?? 0,
      tables: report?.tables ?? [],
      ...(report?.repair ? { repair: report.repair } : {}),
      ...(report?.lastError ? { lastError: report.lastError } : {}),
      startedAt: report?.startedAt ?? described.startTime.toISOString(),
      ...(report?.finishedAt ? { finishedAt: report.finishedAt } : {}),
    };
  }

  /** The differences of a verification, paged, with target table names and key columns. */
  async differences(rawId: string, query: Record<string, unknown>): Promise<DifferenceList> {
    const { page, offset, limit } = await this.page(rawId, query, readDifferences);
    return {
      total: page.total,
      offset,
      limit,
      differences: page.differences.map((d) => ({
        table: tableKey(d.table),
        key: keyObject(d.keyColumns, d.key),
        kind: d.kind,
        columns: d.columns,
        ...(d.repair ? { repair: d.repair } : {}),
      })),
    };
  }

  /** The keys of a channel verification that conflict resolution decided, paged (channel-report.ts). */
  async decided(rawId: string, query: Record<string, unknown>): Promise<DecidedList> {
    const { page, offset, limit } = await this.page(rawId, query, (c, vid, o, l) =>
      c.checksumConnection
        ? readDecided(c.checksumConnection, vid, o, l)
        : Promise.resolve({ total: 0, decided: [] }),
    );
    return {
      total: page.total,
      offset,
      limit,
      decided: page.decided.map((d) => ({
        ...d,
        table: tableKey(d.table),
        key: keyObject(d.keyColumns, d.key),
      })),
    };
  }

  /** One page of a verification's report, read from its pipeline's target. */
  private async page<T>(
    rawId: string,
    query: Record<string, unknown>,
    read: (c: VerificationTargetSession, id: string, offset: number, limit: number) => Promise<T>,
  ): Promise<{ page: T; offset: number; limit: number }> {
    const id = parseVerificationId(rawId);
    const q = differencesQuerySchema.safeParse(query);
    if (!q.success)
      throw new ServiceError(
        'invalid-request',
        'offset is a whole number, limit one from 1 to 10000',
        q.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      );
    const offset = q.data.offset ?? 0;
    const limit = q.data.limit ?? 1000;
    const view = await this.get(id);
    return { page: await this.withTarget(view.pipeline, (c) => read(c, id, offset, limit)), offset, limit };
  }

  /** Starts the repair of a finished verification (409 while it runs or when a repair runs). */
  async repair(rawId: string): Promise<VerificationView> {
    const id = parseVerificationId(rawId);
    const view = await this.get(id);
    if (view.state !== 'done')
      throw new ServiceError(
        'conflict',
        `verification ${id} is ${view.state}: only a finished verification is repaired`,
      );
    const def = await this.deps.store.get(view.pipeline);
    if (!def) throw notFound('pipeline', view.pipeline);
    const channel = await channelDirectionOf(this.deps.store, def.config);
    await this.deps.client.workflow
      .start(REPAIR_WORKFLOW_TYPE, {
        taskQueue: taskQueueFor(this.deps.taskQueue, def.config.region),
        workflowId: repairWorkflowId(id),
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
        args: [{ verificationId: id, config: def.config, ...(channel ? { channel } : {}) }],
        typedSearchAttributes: [
          { key: OTTERFLOW_KIND, value: 'verification-repair' },
          { key: OTTERFLOW_PIPELINE, value: view.pipeline },
          { key: OTTERFLOW_STATUS, value: 'running' },
        ],
      })
      .catch((err: Error) => {
        if (err.name === 'WorkflowExecutionAlreadyStartedError')
          throw new ServiceError('conflict', `a repair of ${id} is running`);
        throw err;
      });
    return {
      ...view,
      repair: {
        state: 'running',
        requested: 0,
        repaired: 0,
        remaining: 0,
        startedAt: new Date().toISOString(),
      },
    };
  }

  async cancel(rawId: string): Promise<VerificationView> {
    const id = parseVerificationId(rawId);
    const view = await this.get(id);
    if (view.workflowStatus !== 'RUNNING')
      throw new ServiceError('conflict', `verification ${id} is not running (${view.state})`);
    await this.deps.client.workflow.getHandle(verificationWorkflowId(id)).cancel();
    return { ...view, workflowStatus: 'CANCEL_REQUESTED' };
  }

  private async withTarget<T>(
    pipeline: string,
    fn: (t: VerificationTargetSession) => Promise<T>,
  ): Promise<T> {
    const def = await this.deps.store.get(pipeline);
    if (!def) throw notFound('pipeline', pipeline);
    const ds = await this.deps.datasources.resolve(def.config.target);
    const target = await verificationConnectorFor(ds).open(ds, pipeline);
    try {
      return await fn(target);
    } finally {
      await target.close();
    }
  }

  /**
   * Tables mapped and existing, the condition valid on each, every compared mapping verifiable, the
   * key range as long as each compared key (also what a verification schedule is checked with).
   */
  async check(
    config: PipelineConfig,
    tables: TableRef[] | undefined,
    where: string | undefined,
    keyRange?: KeyRange,
  ): Promise<void> {
    const mapper = compileMapper({
      ...config,
      mappings: config.mappings.map((m) => ({ ...m, transform: undefined })),
    });
    const unmapped = (tables ?? []).filter((t) => !mapper.isMapped(t.schema, t.table));
    if (unmapped.length)
      throw new ServiceError(
        'unprocessable',
        `not mapped by pipeline ${config.name}: ${unmapped.map(tableKey).join(', ')}`,
        unmapped.map((t) => ({ path: 'tables', message: `${tableKey(t)} is not mapped` })),
      );
    const sourceDs = await this.deps.datasources.resolve(config.source);
    const source = await openSourceReader(sourceDs).catch((err: unknown) => {
      throw unreachable(sourceDs, err);
    });
    let target: VerificationTargetSession | undefined;
    try {
      for (const t of tables ?? [])
        await readSourceTable(source, t).catch((err: Error) => {
          throw new ServiceError('unprocessable', err.message, [{ path: 'tables', message: err.message }]);
        });
      const groups = await targetsToVerify(source, mapper, tables);
      if (groups.length === 0)
        throw new ServiceError('unprocessable', 'no mapped source table to verify', [
          { path: 'tables', message: 'no source table of this pipeline exists' },
        ]);
      const targetDs = await this.deps.datasources.resolve(config.target);
      let connector: VerificationConnector;
      try {
        connector = verificationConnectorFor(targetDs);
      } catch (err) {
        throw new ServiceError('unprocessable', (err as Error).message, [
          { path: 'pipeline', message: (err as Error).message },
        ]);
      }
      target = await connector.open(targetDs, config.name).catch((err: unknown) => {
        throw unreachable(targetDs, err);
      });
      for (const g of groups) {
        const loaded = await loadComparison(source, target, config, mapper, g.target, g.sources).catch(
          (err: Error) => {
            if (err instanceof ComparisonPlanError)
              throw new ServiceError('unprocessable', err.message, [
                { path: 'tables', message: err.message },
              ]);
            throw err;
          },
        );
        const rangeProblems = keyRange
          ? keyRangeProblems(keyRange, keyColumnTypes(loaded.comparison.target), tableKey(g.target))
          : [];
        if (rangeProblems.length)
          throw new ServiceError(
            'unprocessable',
            rangeProblems.map((p) => `${p.path}: ${p.message}`).join('; '),
            rangeProblems,
          );
        if (where !== undefined)
          for (const s of g.sources)
            await validateWhere(source, s, where).catch((err: unknown) => {
              if (err instanceof InvalidWhereError)
                throw new ServiceError('unprocessable', err.message, [
                  { path: 'where', message: err.message },
                ]);
              throw err;
            });
      }
    } finally {
      await source.end().catch(() => {});
      await target?.close();
    }
  }
}

function parseVerificationId(raw: string): string {
  if (!VERIFICATION_ID_PATTERN.test(raw))
    throw new ServiceError('invalid-request', `not a verification id: ${JSON.stringify(raw.slice(0, 200))}`, [
      { path: 'id', message: 'letters, digits, _ . -' },
    ]);
  return raw;
}

/** Verification ids are `<pipeline>.verify-<hex>`. */
function pipelineOf(id: string): string {
  return id.replace(/\.verify-[0-9a-f]+$/, '');
}

/** Key columns and their values, as JSON. */
function keyObject(keyColumns: readonly string[], key: readonly CellValue[]): Record<string, unknown> {
  return Object.fromEntries(keyColumns.map((c, i) => [c, jsonValue(key[i] as CellValue)]));
}

/** A key value in JSON: BIGINT beyond 2^53 as a decimal string, binary as hex with a 0x prefix. */
function jsonValue(v: CellValue): string | number | null {
  if (v === null || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint')
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  return `0x${v.toString('hex')}`;
}
