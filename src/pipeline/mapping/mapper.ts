import type { ColumnDef, RowChange, TableSchema } from '../../binlog/types';
import type { PipelineConfig, SyncMode } from '../config';
import type { MappedChange, Row, TableRef } from '../model';
import { changedColumns, compileProjection, type Projection, projectRow } from './columns';
import { compileFilter, type RowPredicate } from './filter';
import { PackedRow } from './packed-row';
import { type Route, TableRouter } from './router';
import type { TransformFn, TransformRegistry } from './transform';

/**
 * The row mapper: turns a decoded source RowChange into the MappedChanges of every mapping it falls
 * under (fan-out), applying column projection/renames, the row filter and the user transform.
 *
 * Hot path: everything that depends only on the table (pattern matching, column ordinals, filter
 * closures) is compiled once per source table and cached; a row costs a filter call and one Map per
 * image.
 */
export interface Mapper {
  /** The target changes of one source change, in mapping order; empty when unmapped or filtered out. */
  map(change: RowChange): MappedChange[];
  /** Whether any mapping applies to the source table (DDL decisions, skipping unmapped tables early). */
  isMapped(schema: string, table: string): boolean;
  /** The mappings that apply to a source table and their targets. */
  routes(schema: string, table: string): Route[];
  /** Target schemas of a source schema (CREATE/DROP DATABASE); undefined when no mapping matches it. */
  schemaTargets(schema: string): string[] | undefined;
  /** Apply order weight of a target table (for BatchMerger: lower first). */
  weightOf(target: TableRef): number;
  readonly syncMode: SyncMode;
}

/** One mapping compiled for one source table. */
interface TableTarget {
  mapping: number;
  target: TableRef;
  source: TableRef;
  projection: Projection;
  filter: RowPredicate | undefined;
  transform: TransformFn | undefined;
}

const NOTHING: MappedChange[] = [];

/**
 * Compile the mapper of a (validated) configuration. `transforms` holds the loaded transform
 * functions by module path (src/pipeline/transform-loader.ts); a mapping naming a transform that is
 * not loaded is an error here rather than a silently skipped transform.
 * Column or filter problems with a particular table (an included column it lacks) surface as an
 * error from `map` for the first row of that table, naming the table.
 */
export function compileMapper(
  config: Pick<PipelineConfig, 'mappings' | 'options'>,
  transforms: TransformRegistry = new Map(),
): Mapper {
  for (const m of config.mappings) {
    if (m.transform !== undefined && !transforms.has(m.transform)) {
      throw new Error(`transform ${m.transform} is not loaded`);
    }
  }
  const router = new TableRouter(config.mappings);
  const fieldMode = config.options.syncMode === 'FIELD';
  const bySchemaObject = new WeakMap<TableSchema, TableTarget[]>();
  // Decoders may build a new TableSchema per TABLE_MAP event; the same definition reuses the compilation.
  const byDefinition = new Map<string, { signature: string; targets: TableTarget[] }>();

  function compileTable(table: TableSchema): TableTarget[] {
    const routes = router.routes(table.schema, table.table);
    if (routes.length === 0) return NOTHING as unknown as TableTarget[];
    const source: TableRef = { schema: table.schema, table: table.table };
    return routes.map((route) => {
      const m = config.mappings[route.mapping];
      if (!m) throw new Error(`mapping ${route.mapping} disappeared`);
      try {
        return {
          mapping: route.mapping,
          target: route.target,
          source,
          projection: compileProjection(table.columns, m.columns),
          filter: m.filter ? compileFilter(m.filter, table.columns) : undefined,
          transform: m.transform === undefined ? undefined : transforms.get(m.transform),
        };
      } catch (e) {
        throw new Error(
          `mappings.${route.mapping} on ${table.schema}.${table.table}: ${(e as Error).message}`,
        );
      }
    });
  }

  function targetsOf(table: TableSchema): TableTarget[] {
    const cached = bySchemaObject.get(table);
    if (cached) return cached;
    const key = `${table.schema}\u0000${table.table}`;
    const signature = columnsSignature(table.columns);
    const known = byDefinition.get(key);
    let targets: TableTarget[];
    if (known && known.signature === signature) targets = known.targets;
    else {
      targets = compileTable(table);
      byDefinition.set(key, { signature, targets });
    }
    bySchemaObject.set(table, targets);
    return targets;
  }

  function map(change: RowChange): MappedChange[] {
    const targets = targetsOf(change.table);
    if (targets.length === 0) return NOTHING;
    let out: MappedChange[] | undefined;
    for (const t of targets) {
      const mapped = mapOne(t, change, fieldMode);
      if (mapped === undefined) continue;
      out ??= [];
      if (t.transform) applyTransform(t, mapped, out);
      else out.push(mapped);
    }
    return out ?? NOTHING;
  }

  return {
    map,
    isMapped: (schema, table) => router.isMapped(schema, table),
    routes: (schema, table) => router.routes(schema, table),
    schemaTargets: (schema) => router.schemaTargets(schema),
    weightOf: (target) => router.weightOf(target),
    syncMode: config.options.syncMode,
  };
}

function mapOne(t: TableTarget, change: RowChange, fieldMode: boolean): MappedChange | undefined {
  const { filter, projection, target } = t;
  switch (change.kind) {
    case 'insert':
      if (filter && !filter(change.after)) return undefined;
      return { kind: 'insert', target, after: projectRow(projection, change.after) };
    case 'delete':
      if (filter && !filter(change.before)) return undefined;
      return { kind: 'delete', target, before: projectRow(projection, change.before) };
    case 'update': {
      if (filter) {
        // A row can move into or out of the filtered set: the target sees an insert or a delete.
        const was = filter(change.before, change.after);
        const is = filter(change.after, change.before);
        if (!was && !is) return undefined;
        if (!is) return { kind: 'delete', target, before: projectRow(projection, change.before) };
        if (!was)
          return { kind: 'insert', target, after: projectRow(projection, change.after, change.before) };
      }
      if (fieldMode) {
        const changed = changedColumns(projection, change.before, change.after);
        // Only unmapped columns changed: nothing to write (the key is among the mapped columns).
        if (changed.length === 0) return undefined;
        return {
          kind: 'update',
          target,
          before: projectRow(projection, change.before),
          after: projectRow(projection, change.after),
          changedColumns: changed,
        };
      }
      return {
        kind: 'update',
        target,
        before: projectRow(projection, change.before),
        after: projectRow(projection, change.after),
      };
    }
  }
}

function applyTransform(t: TableTarget, change: MappedChange, out: MappedChange[]): void {
  const transform = t.transform as TransformFn;
  const result = transform(withPlainRows(change), { source: t.source, mapping: t.mapping });
  if (result === null || result === undefined) return;
  if (Array.isArray(result)) out.push(...result);
  else out.push(result);
}

/** A transform is promised real `Map` rows (src/pipeline/mapping/transform.ts), not packed ones. */
function withPlainRows(change: MappedChange): MappedChange {
  const plain = (row: Row): Row => (row instanceof PackedRow ? new Map(row) : row);
  switch (change.kind) {
    case 'insert':
      return { ...change, after: plain(change.after) };
    case 'delete':
      return { ...change, before: plain(change.before) };
    case 'update':
      return { ...change, before: plain(change.before), after: plain(change.after) };
  }
}

function columnsSignature(columns: readonly ColumnDef[]): string {
  let s = '';
  for (const c of columns) s += `${c.name}\u0000${c.type}\u0000${c.charset ?? ''}\u0001`;
  return s;
}
