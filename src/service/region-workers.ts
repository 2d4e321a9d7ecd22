import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { PipelineStatusView } from './pipeline-status';

/**
 * A poller is listed by the server for minutes after its worker is gone; a live worker polls again
 * at least every minute (the server's long-poll expiry), so older entries are dead workers.
 */
const LIVE_POLLER_MS = 75_000;

export const pollerSchema = z
  .object({ identity: z.string(), lastAccessTime: z.string() })
  .meta({ id: 'Poller', description: 'a worker that polled the pipeline’s task queue recently' });

export type Poller = z.infer<typeof pollerSchema>;

/** The workers polling a task queue (workflow or activity tasks) within the last minute or so. */
export async function describeRegionWorkers(
  client: Client,
  taskQueue: string,
  now: Date = new Date(),
): Promise<Poller[]> {
  const byIdentity = new Map<string, Poller>();
  for (const taskQueueType of [1 /* WORKFLOW */, 2 /* ACTIVITY */]) {
    const r = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType,
    });
    for (const p of r.pollers ?? []) {
      const ts = p.lastAccessTime;
      const ms = ts ? Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6) : 0;
      if (!p.identity || now.getTime() - ms > LIVE_POLLER_MS) continue;
      const seen = new Date(ms).toISOString();
      const known = byIdentity.get(p.identity);
      if (!known || known.lastAccessTime < seen)
        byIdentity.set(p.identity, { identity: p.identity, lastAccessTime: seen });
    }
  }
  return [...byIdentity.values()].sort((a, b) => a.identity.localeCompare(b.identity));
}

export function regionText(region: string | undefined): string {
  return region ? `region "${region}"` : 'no region';
}

export function withRegion(view: PipelineStatusView, region: string | undefined): PipelineStatusView {
  return region ? { ...view, region } : view;
}

export function noWorkerWarning(taskQueue: string, region: string | undefined): string {
  return (
    `no worker polls task queue "${taskQueue}"${region ? ` (region "${region}")` : ''}: the pipeline cannot make progress until one runs` +
    (region ? ` (otterflow worker --region ${region})` : '')
  );
}
