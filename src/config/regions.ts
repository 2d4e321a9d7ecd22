import { z } from 'zod';

/** A region names a data centre: its workers poll the task queue `<base>-<region>`. */
export const regionSchema = z
  .string()
  .min(1)
  .max(48)
  .regex(/^[a-z][a-z0-9-]*$/, 'lower-case letters, digits and - only, starting with a letter')
  .meta({
    description:
      'where the pipeline’s activities run: workers started with --region <this> poll its task queue',
  });

/** The task queue of a region (the base queue when there is none). */
export function taskQueueFor(baseTaskQueue: string, region: string | undefined): string {
  return region ? `${baseTaskQueue}-${region}` : baseTaskQueue;
}
