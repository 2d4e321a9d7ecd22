import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { PipelineRepository } from '../catalog/types';
import { channelSchema, type PipelineConfig } from '../pipeline/config';
import type { ChannelDirection } from '../verification/contract';
import { notFound, ServiceError } from './problems';
import { type VerificationService, type VerificationView, verificationViewSchema } from './verifications';

/**
 * Verifications of a bidirectional channel (docs/verification.md, "Channels"): one verification per
 * direction, each a verification of one channel pipeline whose re-compare treats both sites as
 * sources. Each direction's report lives on its own target, as for any pipeline, so status, diff and
 * repair work per verification id; the two ids share their suffix.
 */

export const channelParamsSchema = z.object({
  name: channelSchema.shape.id.meta({ description: 'channel id' }),
});

export const channelVerificationsSchema = z
  .object({
    channel: z.string(),
    verifications: z
      .array(verificationViewSchema)
      .meta({ description: 'one verification per direction (pipeline) of the channel' }),
  })
  .meta({ id: 'ChannelVerifications' });

export type ChannelVerifications = z.infer<typeof channelVerificationsSchema>;

export const decidedListSchema = z
  .object({
    total: z.number(),
    offset: z.number(),
    limit: z.number(),
    decided: z.array(
      z.object({
        table: z.string().meta({ description: 'target table, schema.table' }),
        key: z.record(z.string(), z.unknown()).meta({ description: 'target key columns and values' }),
        kind: z.enum(['missing', 'extra', 'different']),
        columns: z.array(z.string()),
        conflicts: z
          .array(
            z.object({
              site: z.enum(['source', 'target']).meta({ description: 'the site that recorded the conflict' }),
              pipeline: z.string(),
              conflictId: z.number().meta({ description: "id in that site's otterflow.conflicts" }),
              policy: z.string(),
              resolution: z.enum(['applied', 'skipped']),
            }),
          )
          .meta({ description: 'the recorded resolutions whose result each site holds' }),
      }),
    ),
  })
  .meta({ id: 'VerificationDecidedByPolicy' });

export type DecidedList = z.infer<typeof decidedListSchema>;

/** True when `b` replicates the opposite way of `a` on the same channel. */
function opposite(a: PipelineConfig, b: PipelineConfig): boolean {
  const id = a.options.channel?.id;
  return (
    id !== undefined &&
    b.name !== a.name &&
    b.options.channel?.id === id &&
    b.source === a.target &&
    b.target === a.source
  );
}

/** The channel direction of a pipeline: its channel and the opposite pipeline, when both are defined. */
export async function channelDirectionOf(
  store: PipelineRepository,
  config: PipelineConfig,
): Promise<ChannelDirection | undefined> {
  const id = config.options.channel?.id;
  if (id === undefined) return undefined;
  const peer = (await store.list()).find((d) => opposite(config, d.config));
  return peer ? { id, peer: peer.config.name } : undefined;
}

/**
 * Starts the verification of every direction of channel `rawId` with one request body (the same
 * tables, condition and settings for each direction). Every direction is checked before any starts.
 */
export async function startChannelVerification(
  deps: { store: PipelineRepository; verifications: VerificationService },
  rawId: string,
  body: unknown,
): Promise<ChannelVerifications> {
  const parsed = channelSchema.shape.id.safeParse(rawId);
  if (!parsed.success || rawId === '*')
    throw new ServiceError('invalid-request', `not a channel id: ${JSON.stringify(rawId.slice(0, 200))}`, [
      { path: 'name', message: 'letters, digits, _ . : -' },
    ]);
  const all = (await deps.store.list()).map((d) => d.config).filter((c) => c.options.channel?.id === rawId);
  if (all.length === 0) throw notFound('channel', rawId);
  const directions = all
    .filter((c) => all.some((o) => opposite(c, o)))
    .sort((a, b) => a.name.localeCompare(b.name));
  if (directions.length < 2)
    throw new ServiceError(
      'unprocessable',
      `channel ${rawId} has no two opposite pipelines (${all.map((c) => `${c.name}: ${c.source} → ${c.target}`).join(', ')}): verify its pipeline with POST /v1/pipelines/{name}/verifications`,
    );
  const tag = randomBytes(4).toString('hex');
  const inputs = [];
  for (const c of directions) inputs.push(await deps.verifications.prepare(c, body, tag));
  const verifications: VerificationView[] = [];
  for (const input of inputs) verifications.push(await deps.verifications.launch(input));
  return { channel: rawId, verifications };
}
