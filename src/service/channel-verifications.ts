import { z } from 'zod';
import { channelSchema } from '../pipeline/config';
import { verificationViewSchema } from './verifications';

/**
 * What the API says about verifications of a bidirectional channel (docs/verification.md,
 * "Channels"): the verifications started for its directions, and the keys conflict resolution decided.
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
