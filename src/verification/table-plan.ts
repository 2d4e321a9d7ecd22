import type { ColumnDef } from '../binlog/types';
import type { FilterExpr, MappingConfig } from '../pipeline/config';
import { compileProjection } from '../pipeline/mapping/columns';
import { type TableRef, tableKey } from '../pipeline/model';
import type { ComparedColumn, SideTable } from './checksum-sql';

/**
 * What a verification compares for one TARGET table (pure): the target's columns and key, and for
 * every source table mapped into it the same columns as the pipeline's mapping produces them —
 * renamed, included or excluded by the mapping's column rules, rows chosen by its filter. Several
 * source tables (shards merged by a pattern) compare as one: their checksums add up.
 */

/** A table's columns and key as information_schema describes them. */
export interface TableColumns {
  ref: TableRef;
  columns: ComparedColumn[];
  /** Primary key, else the first NOT NULL unique key; empty when the table has none. */
  keyColumns: string[];
}

/** One source table of a comparison. */
export interface SourceComparison {
  side: SideTable;
  /** The mapping's row filter (source column names), applied to the source rows in the worker. */
  filter?: FilterExpr;
  /** Source columns the filter reads. */
  filterColumns: string[];
  /** The mapping has a pure transform: rows are mapped and compared in the worker (row-digests.ts). */
  transform?: true;
}

export interface TableComparison {
  target: SideTable;
  sources: SourceComparison[];
}

/** The mapping cannot be verified (a transform), or source and target do not fit together. */
export class ComparisonPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ComparisonPlanError';
  }
}

/** Column names a filter reads. */
export function filterColumns(f: FilterExpr | undefined): string[] {
  if (!f) return [];
  const out = new Set<string>();
  const walk = (e: FilterExpr) => {
    if (e.column !== undefined) out.add(e.column);
    for (const x of e.all ?? []) walk(x);
    for (const x of e.any ?? []) walk(x);
    if (e.not) walk(e.not);
  };
  walk(f);
  return [...out];
}

/**
 * Whether a mapping's transform can be verified: none (false), or declared pure (`verify: pure`, true:
 * the worker applies it to the source rows). Any other transform is refused, naming the mapping.
 */
export function transformVerifiable(mapping: MappingConfig, name: string): boolean {
  if (mapping.transform === undefined) return false;
  if (mapping.verify === 'pure') return true;
  throw new ComparisonPlanError(
    `${name}: the mapping has a transform (${mapping.transform}) that is not declared pure; set \`verify: pure\` on the mapping if the transform is a pure function of the row (docs/verification.md), or leave its tables out of the verification`,
  );
}

/**
 * The comparison of `target` with the source tables mapped into it. Throws ComparisonPlanError when
 * a mapping has a transform (its output is code, not a column mapping), when the target has no key,
 * when a target key column is not fed by the source, or when merged sources feed different columns.
 */
export function planTableComparison(
  target: TableColumns,
  sources: { table: TableColumns; mapping: MappingConfig; index?: number }[],
): TableComparison {
  const where = tableKey(target.ref);
  if (sources.length === 0) throw new ComparisonPlanError(`${where}: no source table maps into it`);
  if (target.keyColumns.length === 0)
    throw new ComparisonPlanError(
      `${where} has no primary or NOT NULL unique key: rows cannot be matched by key`,
    );
  const targetByName = new Map(target.columns.map((c) => [c.name, c]));
  let names: string[] | undefined;
  const out: SourceComparison[] = [];
  const sourcesOf: Map<string, ComparedColumn>[] = [];
  for (const { table, mapping, index } of sources) {
    const from = tableKey(table.ref);
    const pure = transformVerifiable(
      mapping,
      `${index === undefined ? '' : `mappings.${index} `}(${from} → ${where})`,
    );
    let projection: ReturnType<typeof compileProjection>;
    try {
      projection = compileProjection(
        table.columns.map((c) => ({ name: c.name }) as ColumnDef),
        mapping.columns,
      );
    } catch (err) {
      throw new ComparisonPlanError(`${from} → ${where}: ${(err as Error).message}`);
    }
    const sourceOf = new Map<string, ComparedColumn>();
    projection.names.forEach((n, j) => {
      const c = table.columns[projection.ordinals[j] as number] as ComparedColumn;
      sourceOf.set(n, c);
    });
    sourcesOf.push(sourceOf);
    // A transform decides what every target column holds: the whole target row is compared.
    const produced = pure ? target.columns.map((c) => c.name) : projection.names;
    if (pure) for (const c of target.columns) if (!sourceOf.has(c.name)) sourceOf.set(c.name, c);
    const missing = produced.filter((n) => !targetByName.has(n));
    if (missing.length)
      throw new ComparisonPlanError(
        `${where} lacks column(s) ${missing.join(', ')} that ${from} maps into it`,
      );
    names ??= produced;
    const mine = new Set(produced);
    if (mine.size !== names.length || names.some((n) => !mine.has(n)))
      throw new ComparisonPlanError(
        `${from} maps columns (${produced.join(', ')}) other than the other sources of ${where} (${names.join(', ')})`,
      );
    const key = target.keyColumns.map((k) => {
      const c = sourceOf.get(k);
      if (!c) throw new ComparisonPlanError(`${where}: key column ${k} is not mapped from ${from}`);
      return c.name;
    });
    const order = names;
    out.push({
      side: { ref: table.ref, columns: order.map((n) => sourceOf.get(n) as ComparedColumn), keyColumns: key },
      ...(mapping.filter ? { filter: mapping.filter } : {}),
      filterColumns: filterColumns(mapping.filter),
      ...(pure ? { transform: true as const } : {}),
    });
  }
  const order = names as string[];
  // A column NOT NULL on every side needs no NULL flag in the row hash; both sides must agree.
  const nullable = new Map(
    order.map((n) => [
      n,
      targetByName.get(n)?.nullable !== false || sourcesOf.some((m) => m.get(n)?.nullable !== false),
    ]),
  );
  for (const src of out)
    src.side.columns = src.side.columns.map((c, i) => ({
      ...c,
      nullable: nullable.get(order[i] as string) as boolean,
    }));
  return {
    target: {
      ref: target.ref,
      columns: order.map((n) => ({
        ...(targetByName.get(n) as ComparedColumn),
        nullable: nullable.get(n) as boolean,
      })),
      keyColumns: target.keyColumns,
    },
    sources: out,
  };
}
