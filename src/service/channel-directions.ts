import { randomBytes } from 'node:crypto';
import type { PipelineRepository } from '../catalog/types';
import { channelSchema, type PipelineConfig } from '../pipeline/config';
import type { ChannelDirection, VerificationInput } from '../verification/contract';
import type { ChannelVerifications } from './channel-verifications';
import { notFound, ServiceError } from './problems';

/**
 * The directions of a bidirectional channel among the stored pipelines (docs/verification.md,
 * "Channels"): a verification of a channel pipeline whose opposite pipeline is defined is a
 * verification of one direction of the channel, whose re-compare treats both sites as sources.
 */

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
 * The pipelines of channel `rawId` that have their opposite pipeline, by name (404: no pipeline of
 * that channel; 422: no two opposite ones).
 */
export async function channelDirections(store: PipelineRepository, rawId: string): Promise<PipelineConfig[]> {
  const parsed = channelSchema.shape.id.safeParse(rawId);
  if (!parsed.success || rawId === '*')
    throw new ServiceError('invalid-request', `not a channel id: ${JSON.stringify(rawId.slice(0, 200))}`, [
      { path: 'name', message: 'letters, digits, _ . : -' },
    ]);
  const all = (await store.list()).map((d) => d.config).filter((c) => c.options.channel?.id === rawId);
  if (all.length === 0) throw notFound('channel', rawId);
  const directions = all
    .filter((c) => all.some((o) => opposite(c, o)))
    .sort((a, b) => a.name.localeCompare(b.name));
  if (directions.length < 2)
    throw new ServiceError(
      'unprocessable',
      `channel ${rawId} has no two opposite pipelines (${all.map((c) => `${c.name}: ${c.source} → ${c.target}`).join(', ')}): verify its pipeline with POST /v1/pipelines/{name}/verifications`,
    );
  return directions;
}

/** What starting a channel's verifications needs of the verification service. */
interface VerificationStarter {
  prepare(config: PipelineConfig, body: unknown, tag: string): Promise<VerificationInput>;
  launch(input: VerificationInput): Promise<ChannelVerifications['verifications'][number]>;
}

/**
 * Starts a verification of every direction of channel `rawId` with one request body: every direction
 * is checked before any starts, and the ids share their suffix.
 */
export async function startChannelVerifications(
  store: PipelineRepository,
  vf: VerificationStarter,
  rawId: string,
  body: unknown,
): Promise<ChannelVerifications> {
  const tag = randomBytes(4).toString('hex');
  const inputs: VerificationInput[] = [];
  for (const c of await channelDirections(store, rawId)) inputs.push(await vf.prepare(c, body, tag));
  const verifications: ChannelVerifications['verifications'] = [];
  for (const input of inputs) verifications.push(await vf.launch(input));
  return { channel: rawId, verifications };
}
