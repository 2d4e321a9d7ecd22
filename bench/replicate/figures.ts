/** Figures of one consumer run, and the goals evaluated on them. */
import { round } from '../lib/measure';

export interface Figures {
  seconds: number;
  rowsPerSecond: number;
  transactionsPerSecond: number;
  cpuSeconds?: Record<string, number>;
  [k: string]: unknown;
}

export function figures(seconds: number, rowChanges: number, transactions: number): Figures {
  return {
    seconds: round(seconds, 2),
    rowsPerSecond: Math.round(rowChanges / seconds),
    transactionsPerSecond: Math.round(transactions / seconds),
  };
}

/** The goals set for the replicator, evaluated on one flavour's figures. */
export function goals(
  out: Record<string, unknown>,
  durabilities: readonly string[],
): Record<string, unknown> {
  const speedup = (workload: string, durability: string) =>
    (
      (out[workload] as Record<string, unknown> | undefined)?.[durability] as
        | { speedupVsNative?: number }
        | undefined
    )?.speedupVsNative;
  const g: Record<string, unknown> = {};
  for (const d of durabilities) {
    const a = speedup('a_batched100', d);
    const b = speedup('b_singleRow', d);
    g[`a_atLeastNative_${d}`] = a === undefined ? null : a >= 1;
    g[`b_atLeast5xNative_${d}`] = b === undefined ? null : b >= 5;
  }
  const c = out.c_lag as { p99Ms?: number } | undefined;
  g.c_p99Below1s = c?.p99Ms === undefined ? null : c.p99Ms < 1000;
  return g;
}
