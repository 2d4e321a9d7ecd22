import { randomBytes } from 'node:crypto';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { fromPayloadsAtIndex, type PayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { z } from 'zod';
import {
  BACKFILL_ID_PATTERN,
  BACKFILL_WORKFLOW_TYPE,
  type BackfillInput,
  type BackfillStatus,
  backfillStatusQuery,
  backfillWorkflowId,
  type IndexRebuildProgress,
} from '../backfill/contract';
import { openSourceReader, readSourceTable } from '../backfill/source-table';
import { InvalidWhereError, validateWhere } from '../backfill/where-check';
import type { PipelineRepository } from '../catalog/types';
import { taskQueueFor } from '../config/regions';
import { targetConnectorFor } from '../connectors/registry';
import { compileMapper } from '../pipeline/mapping/mapper';
import type { backfillWorkflow } from '../workflows/backfill';
import { OTTERFLOW_KIND, OTTERFLOW_PIPELINE, OTTERFLOW_STATUS } from '../workflows/search-attributes';
import type { DatasourceService } from './datasources';
import { parseName } from './names';
import { notFound, ServiceError } from './problems';

const tableNameSchema = z
  .string()
  .regex(/^[^.`\s]+\.[^.`\s]+$/, 'write tables as schema.table')
  .meta({ description: 'a SOURCE table, schema.table' });

/** What POST /v1/pipelines/:name/backfills accepts. */
export const backfillRequestSchema = z
  .object({
    kind: z.enum(['initial', 'resync']).default('resync'),
    tables: z.array(tableNameSchema).min(1).max(1000).optional(),
    where: z.string().min(1).max(10_000).optional(),
    keys: z
      .array(z.array(z.union([z.string(), z.number(), z.null()])).min(1))
      .min(1)
      .max(100_000)
      .optional(),
    chunkSize: z.number().int().min(1).max(100_000).optional(),
    parallelism: z.number().int().min(1).max(32).optional(),
    maxRowsPerSecond: z.number().int().min(0).max(100_000_000).optional(),
    secondaryIndexes: z.enum(['defer', 'keep']).optional().meta({
      description:
        "initial load: defer (default) takes the plain secondary indexes off empty target tables and rebuilds each table's when its chunks are done; keep loads with them on",
    }),
  })
  .strict()
  .meta({
    id: 'BackfillRequest',
    // What start() refuses with a 400, stated for the OpenAPI document (kind defaults to resync).
    allOf: [
      {
        anyOf: [{ required: ['kind'], properties: { kind: { const: 'initial' } } }, { required: ['tables'] }],
      },
      {
        anyOf: [
          { not: { required: ['secondaryIndexes'] } },
          { required: ['kind'], properties: { kind: { const: 'initial' } } },
        ],
      },
      { anyOf: [{ not: { required: ['keys'] } }, { properties: { tables: { maxItems: 1 } } }] },
      {
        anyOf: [
          { not: { required: ['kind'], properties: { kind: { const: 'initial' } } } },
          { not: { anyOf: [{ required: ['tables'] }, { required: ['where'] }, { required: ['keys'] }] } },
        ],
      },
    ],
  });

export const backfillViewSchema = z
  .object({
    id: z.string(),
    pipeline: z.string(),
    workflowId: z.string(),
    workflowStatus: z.string(),
    startTime: z.string().optional(),
    closeTime: z.string().optional(),
    progress: z.record(z.string(), z.unknown()).optional().meta({
      description: 'the backfill workflow status query: rows copied, estimate, rows/s, ETA, chunks',
    }),
    indexRebuild: z
      .object({
        statement: z.string(),
        state: z.string(),
        progressPercent: z.number().optional(),
        seconds: z.number(),
      })
      .optional()
      .meta({
        description:
          'an index rebuild running now (state indexing): what the target server says of its ALTER TABLE',
      }),
  })
  .meta({ id: 'Backfill' });

export type BackfillView = z.infer<typeof backfillViewSchema>;

export interface BackfillServiceDeps {
  store: PipelineRepository;
  datasources: DatasourceService;
  client: Client;
  taskQueue: string;
}

/**
 * Backfills of a pipeline: start (checked first: tables mapped and keyed, a WHERE condition parsed
 * by the source with EXPLAIN), list, watch, cancel. The work runs in `backfillWorkflow`.
 */
export class BackfillService {
  constructor(private readonly deps: BackfillServiceDeps) {}

  /**
   * A target whose connector has no backfill is refused before anything runs, and so is an explicit
   * `secondaryIndexes: defer` on a target that keeps its indexes during a load.
   */
  private async assertTargetCanCopy(target: string, secondaryIndexes: string | undefined): Promise<void> {
    const ds = await this.deps.datasources.get(target);
    const connector = targetConnectorFor(ds);
    if (!connector.backfill)
      throw new ServiceError(
        'unprocessable',
        `target "${ds.name}" is ${connector.dialect}: this build has no backfill (initial load and re-sync) for it; ` +
          'load the tables into it by other means, then start the pipeline at the position of that copy',
        [{ path: 'target', message: `${connector.dialect} targets cannot be backfilled` }],
      );
    if (secondaryIndexes === 'defer' && !connector.backfill.deferredIndexes)
      throw new ServiceError(
        'unprocessable',
        `target "${ds.name}" is ${connector.dialect}: its secondary indexes stay in place during a load (no deferred indexes); ` +
          'omit secondaryIndexes or use keep',
        [{ path: 'secondaryIndexes', message: `${connector.dialect} targets do not defer indexes` }],
      );
  }

  async start(rawPipeline: string, body: unknown): Promise<BackfillView> {
    const name = parseName('pipeline', rawPipeline);
    const def = await this.deps.store.get(name);
    if (!def) throw notFound('pipeline', name);
    const parsed = backfillRequestSchema.safeParse(body);
    if (!parsed.success)
      throw new ServiceError(
        'invalid-request',
        `backfill request is not valid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      );
    const req = parsed.data;
    const config = def.config;
    await this.assertTargetCanCopy(config.target, req.secondaryIndexes);
    const tables = (req.tables ?? []).map((t) => {
      const [schema = '', table = ''] = t.split('.');
      return { schema, table };
    });
    if (req.kind === 'resync') {
      if (tables.length === 0)
        throw new ServiceError('invalid-request', 'a resync names its tables', [
          { path: 'tables', message: 'required for kind resync' },
        ]);
      if (req.secondaryIndexes)
        throw new ServiceError('invalid-request', 'secondaryIndexes applies to an initial load only', [
          { path: 'secondaryIndexes', message: 'only with kind initial' },
        ]);
      if (req.keys && tables.length !== 1)
        throw new ServiceError('invalid-request', 'keys apply to exactly one table', [
          { path: 'keys', message: 'name one table' },
        ]);
      await this.checkTables(config.source, config, tables, req.where);
    } else if (req.tables || req.where || req.keys) {
      throw new ServiceError(
        'invalid-request',
        'an initial load copies every mapped table: no tables, where or keys',
        [{ path: 'kind', message: 'use kind resync to choose rows' }],
      );
    }
    const id = `${name}.${req.kind}-${randomBytes(4).toString('hex')}`;
    const input: BackfillInput = {
      id,
      kind: req.kind,
      config,
      ...(tables.length ? { tables } : {}),
      ...(req.where !== undefined ? { where: req.where } : {}),
      ...(req.keys ? { keys: req.keys } : {}),
      ...(req.chunkSize ? { chunkSize: req.chunkSize } : {}),
      ...(req.parallelism ? { parallelism: req.parallelism } : {}),
      ...(req.maxRowsPerSecond ? { maxRowsPerSecond: req.maxRowsPerSecond } : {}),
      ...(req.secondaryIndexes ? { secondaryIndexes: req.secondaryIndexes } : {}),
    };
    const handle = await this.deps.client.workflow.start<typeof backfillWorkflow>(BACKFILL_WORKFLOW_TYPE, {
      // A backfill runs where its pipeline runs: next to the target, in the pipeline's region.
      taskQueue: taskQueueFor(this.deps.taskQueue, config.region),
      workflowId: backfillWorkflowId(id),
      workflowIdConflictPolicy: 'FAIL',
      args: [input],
      typedSearchAttributes: [
        { key: OTTERFLOW_KIND, value: 'backfill' },
        { key: OTTERFLOW_PIPELINE, value: name },
        { key: OTTERFLOW_STATUS, value: 'planning' },
      ],
    });
    return { id, pipeline: name, workflowId: handle.workflowId, workflowStatus: 'RUNNING' };
  }

  /** Backfills of a pipeline, newest first (Temporal visibility). */
  async list(rawPipeline: string): Promise<BackfillView[]> {
    const name = parseName('pipeline', rawPipeline);
    const query = `WorkflowType = '${BACKFILL_WORKFLOW_TYPE}' AND OtterflowPipeline = '${name}'`;
    const out: BackfillView[] = [];
    for await (const info of this.deps.client.workflow.list({ query })) {
      out.push({
        id: info.workflowId.replace(/^backfill:/, ''),
        pipeline: name,
        workflowId: info.workflowId,
        workflowStatus: info.status.name,
        startTime: info.startTime.toISOString(),
        ...(info.closeTime ? { closeTime: info.closeTime.toISOString() } : {}),
      });
    }
    return out.sort((a, b) => (b.startTime ?? '').localeCompare(a.startTime ?? ''));
  }

  /** One backfill with its live progress (the workflow's status query). */
  async get(rawId: string): Promise<BackfillView> {
    const id = parseBackfillId(rawId);
    const handle = this.deps.client.workflow.getHandle(backfillWorkflowId(id));
    let described: Awaited<ReturnType<typeof handle.describe>>;
    try {
      described = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw notFound('backfill', id);
      throw err;
    }
    let progress: BackfillStatus | undefined;
    try {
      progress = await this.deps.client.withDeadline(Date.now() + 15_000, () =>
        handle.query(backfillStatusQuery),
      );
    } catch {
      progress = undefined; // no worker to answer: visibility still tells the state
    }
    const indexRebuild = pendingIndexRebuild(
      described.raw,
      this.deps.client.options.loadedDataConverter.payloadConverter,
    );
    return {
      id,
      pipeline: described.typedSearchAttributes.get(OTTERFLOW_PIPELINE) ?? progress?.pipeline ?? '',
      workflowId: described.workflowId,
      workflowStatus: described.status.name,
      startTime: described.startTime.toISOString(),
      ...(described.closeTime ? { closeTime: described.closeTime.toISOString() } : {}),
      ...(progress ? { progress: progress as unknown as Record<string, unknown> } : {}),
      ...(indexRebuild ? { indexRebuild } : {}),
    };
  }

  /** Cancels a running backfill: chunk copies in flight roll back; a resync withdraws its requests. */
  async cancel(rawId: string): Promise<BackfillView> {
    const id = parseBackfillId(rawId);
    const view = await this.get(id);
    if (view.workflowStatus !== 'RUNNING')
      throw new ServiceError('conflict', `backfill ${id} is not running (${view.workflowStatus})`);
    await this.deps.client.workflow.getHandle(backfillWorkflowId(id)).cancel();
    return { ...view, workflowStatus: 'CANCEL_REQUESTED' };
  }

  /** Tables mapped, existing with a key; a condition valid for each (EXPLAIN on the source). */
  private async checkTables(
    source: string,
    config: Parameters<typeof compileMapper>[0],
    tables: { schema: string; table: string }[],
    where: string | undefined,
  ): Promise<void> {
    const mapper = compileMapper({
      ...config,
      mappings: config.mappings.map((m) => ({ ...m, transform: undefined })),
    });
    const unmapped = tables.filter((t) => !mapper.isMapped(t.schema, t.table));
    if (unmapped.length)
      throw new ServiceError(
        'unprocessable',
        `not mapped by this pipeline: ${unmapped.map((t) => `${t.schema}.${t.table}`).join(', ')}`,
        unmapped.map((t) => ({ path: 'tables', message: `${t.schema}.${t.table} is not mapped` })),
      );
    const conn = await openSourceReader(await this.deps.datasources.resolve(source));
    try {
      for (const t of tables) {
        const info = await readSourceTable(conn, t).catch((err: Error) => {
          throw new ServiceError('unprocessable', err.message, [{ path: 'tables', message: err.message }]);
        });
        if (info.keyColumns.length === 0)
          throw new ServiceError(
            'unprocessable',
            `${t.schema}.${t.table} has no primary or NOT NULL unique key`,
            [{ path: 'tables', message: 'a resync pages by key' }],
          );
        if (where !== undefined) {
          await validateWhere(conn, t, where).catch((err: unknown) => {
            if (err instanceof InvalidWhereError)
              throw new ServiceError('unprocessable', err.message, [{ path: 'where', message: err.message }]);
            throw err;
          });
        }
      }
    } finally {
      await conn.end().catch(() => {});
    }
  }
}

function parseBackfillId(raw: string): string {
  if (!BACKFILL_ID_PATTERN.test(raw))
    throw new ServiceError('invalid-request', `not a backfill id: ${JSON.stringify(raw.slice(0, 200))}`, [
      { path: 'id', message: 'letters, digits, _ . -' },
    ]);
  return raw;
}

/** The latest heartbeat of a running index rebuild of a backfill workflow, if one runs. */
export function pendingIndexRebuild(
  raw: { pendingActivities?: temporal.api.workflow.v1.IPendingActivityInfo[] | null },
  converter: PayloadConverter,
): IndexRebuildProgress | undefined {
  const pending = raw.pendingActivities?.find((a) => a.activityType?.name === 'backfillRestoreIndexes');
  const payloads = pending?.heartbeatDetails?.payloads;
  return payloads?.length ? fromPayloadsAtIndex<IndexRebuildProgress>(converter, 0, payloads) : undefined;
}
