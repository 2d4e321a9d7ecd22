import type { MappedChange, TableRef } from '../model';

/**
 * A user transform (otter's EventProcessor): a TypeScript or JavaScript module named by a mapping's
 * `transform` path, exporting this function as `default` or as `transform`.
 *
 * It receives each change after column mapping and filtering, and returns:
 * - the change (possibly with rewritten rows or another `target`, i.e. re-routed),
 * - `null` / `undefined` to drop it,
 * - an array of changes (fan-out, or an update split into delete + insert).
 *
 * It runs on the hot path: keep it synchronous and free of I/O. Rows are `Map`s keyed by target
 * column name; mutate them or build new ones. Loading the module is I/O and happens in the activity
 * (src/pipeline/transform-loader.ts); this file only defines the contract.
 */
export type TransformFn = (change: MappedChange, context: TransformContext) => TransformResult;

export type TransformResult = MappedChange | MappedChange[] | null | undefined;

export interface TransformContext {
  /** The source table the change came from. */
  source: TableRef;
  /** Index of the mapping in the pipeline configuration. */
  mapping: number;
}

/** Transforms by module path, as given in the mappings (the loader returns this). */
export type TransformRegistry = ReadonlyMap<string, TransformFn>;
