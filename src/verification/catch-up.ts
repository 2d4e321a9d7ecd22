import type { BinlogPosition } from '../binlog/types';
import { positionReached } from './classify';

/** How to wait for the pipeline on the target (any target: the applied position is all it reads). */
export interface CatchUpWait {
  pipeline: string;
  /** The pipeline's applied position on the target (its checkpoint), undefined when it never ran. */
  applied: () => Promise<BinlogPosition | undefined>;
  timeoutMs: number;
  signal?: AbortSignal;
  pollMs?: number;
}

/**
 * Waits until the pipeline's checkpoint on the target has reached `position` (a source position read
 * after the rows being compared). Throws when cancelled, or after `timeoutMs` with a message that
 * says how far the pipeline got: a stopped pipeline fails the verification instead of showing its
 * backlog as differences.
 */
export async function waitUntilApplied(position: BinlogPosition, wait: CatchUpWait): Promise<void> {
  const deadline = Date.now() + wait.timeoutMs;
  for (;;) {
    const applied = await wait.applied();
    if (positionReached(applied, position)) return;
    if (wait.signal?.aborted) throw new Error('verification cancelled');
    if (Date.now() > deadline)
      throw new Error(
        `pipeline ${wait.pipeline} has not applied the source up to ${position.file}:${position.pos} within ${Math.round(wait.timeoutMs / 1000)} s (applied: ${applied ? `${applied.file}:${applied.pos}` : 'nothing'}); is it running?`,
      );
    await new Promise((r) => setTimeout(r, wait.pollMs ?? 200));
  }
}
