import { z } from 'zod';
import type { PipelineRepository } from '../catalog/types';
import { targetConnectorFor } from '../connectors/registry';
import { CONFLICT_OPS } from '../replication/conflicts';
import type { DatasourceService } from './datasources';
import { parseName } from './names';
import { notFound, ServiceError } from './problems';

/**
 * Write conflicts of a channel pipeline (docs/bidirectional.md), read from the
 * `otterflow.conflicts` table of the pipeline's TARGET, where the pipeline records them in the same
 * transaction as the rows it applied.
 */

const rowSchema = z.record(z.string(), z.string().nullable());

export const conflictSchema = z
  .object({
    id: z.number().int(),
    at: z.string().meta({ description: 'when it was detected (ISO 8601, UTC)' }),
    pipeline: z.string(),
    channel: z.string(),
    table: z.string().meta({ description: 'schema.table on the target' }),
    op: z.enum(CONFLICT_OPS).meta({
      description: 'what the source did: update, delete, or insert of a key the target already had',
    }),
    key: z.record(z.string(), z.string()),
    sourceBefore: rowSchema
      .nullable()
      .meta({ description: 'the source row before its change (binary as 0x…); null for an insert' }),
    sourceAfter: rowSchema
      .nullable()
      .meta({ description: 'the row the source wanted written; null for a delete' }),
    targetRow: rowSchema
      .nullable()
      .meta({ description: 'the row found on the target; null when it was gone' }),
    resolution: z.enum(['applied', 'skipped']).meta({
      description: 'applied: the source change was written; skipped: the target row was kept',
    }),
    policy: z.enum(['sourceWins', 'targetWins', 'lastWriterWins', 'sitePriority']),
    reason: z.string(),
  })
  .meta({ id: 'Conflict' });

export const conflictListSchema = z
  .object({
    pipeline: z.string(),
    target: z.string(),
    total: z.number().int().meta({ description: 'conflicts recorded for this pipeline in all' }),
    conflicts: z.array(conflictSchema).meta({ description: 'the newest first, at most `limit`' }),
  })
  .meta({ id: 'ConflictList' });

export type ConflictList = z.infer<typeof conflictListSchema>;

export const conflictQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .meta({ description: 'how many of the newest conflicts (default 50)' }),
});

export const DEFAULT_CONFLICT_LIMIT = 50;

/** Lists the newest conflicts of pipeline `rawName` from its target (limit 1–1000). */
export async function listPipelineConflicts(
  deps: { store: PipelineRepository; datasources: DatasourceService },
  rawName: string,
  limit: number = DEFAULT_CONFLICT_LIMIT,
): Promise<ConflictList> {
  const name = parseName('pipeline', rawName);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new ServiceError('invalid-request', 'limit must be an integer from 1 to 1000', [
      { path: 'limit', message: 'from 1 to 1000' },
    ]);
  const def = await deps.store.get(name);
  if (!def) throw notFound('pipeline', name);
  const target = await deps.datasources.resolve(def.config.target);
  let connector: ReturnType<typeof targetConnectorFor>;
  try {
    connector = targetConnectorFor(target);
  } catch (err) {
    throw new ServiceError('unprocessable', `pipeline "${name}": ${(err as Error).message}`);
  }
  if (!connector.capabilities.channels)
    throw new ServiceError(
      'unprocessable',
      `pipeline "${name}" writes to a ${connector.dialect} target, which cannot take part in channels: it has no conflicts`,
    );
  const session = await connector.open(target, { pipeline: name });
  try {
    const r = await session.marks!.listConflicts(limit);
    return { pipeline: name, target: def.config.target, ...r };
  } finally {
    await session.close();
  }
}
