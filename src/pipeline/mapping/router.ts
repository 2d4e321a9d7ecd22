import type { MappingConfig } from '../config';
import { type TableRef, tableKey } from '../model';
import {
  compilePattern,
  compileTargetPattern,
  isManyToOne,
  matchPattern,
  type NamePattern,
  resolveTargetName,
  type TargetNamePattern,
} from './patterns';

/**
 * Which mappings a source table falls under and the target table each one gives. Shared by the row
 * mapper and the DDL rewriter so both always agree on names. Results are cached per source table.
 */

/** One mapping that applies to a source table. */
export interface Route {
  /** Index of the mapping in the configuration. */
  mapping: number;
  /** Target table (the same object for every route to the same table, so it can key maps by identity). */
  target: TableRef;
  /** Several source tables may write this target (shards or regex into one literal name). */
  manyToOne: boolean;
  /** The mapping changes columns (include/exclude/rename): source DDL does not describe the target. */
  columnRules: boolean;
}

interface CompiledMapping {
  schema: NamePattern;
  table: NamePattern;
  targetSchema: TargetNamePattern;
  targetTable: TargetNamePattern;
  weight: number;
  manyToOne: boolean;
  columnRules: boolean;
}

export class TableRouter {
  private readonly mappings: CompiledMapping[];
  private readonly cache = new Map<string, Route[]>();
  private readonly targets = new Map<string, TableRef>();
  private readonly weights = new Map<string, number>();

  /** Throws PatternError for a pattern that validatePipelineConfig would have refused. */
  constructor(mappings: readonly MappingConfig[]) {
    this.mappings = mappings.map((m) => {
      const schema = compilePattern(m.source.schema);
      const table = compilePattern(m.source.table);
      const targetSchema = compileTargetPattern(m.target.schema);
      const targetTable = compileTargetPattern(m.target.table);
      const columnRules = Boolean(m.columns?.include || m.columns?.exclude);
      const manyToOne = isManyToOne(schema, targetSchema) || isManyToOne(table, targetTable);
      return { schema, table, targetSchema, targetTable, weight: m.weight, manyToOne, columnRules };
    });
  }

  /** Routes of a source table, in configuration order (empty when no mapping applies). */
  routes(schema: string, table: string): Route[] {
    const key = `${schema}\u0000${table}`;
    let routes = this.cache.get(key);
    if (!routes) {
      routes = [];
      this.mappings.forEach((m, i) => {
        const s = matchPattern(m.schema, schema);
        if (!s) return;
        const t = matchPattern(m.table, table);
        if (!t) return;
        const target = this.intern({
          schema: resolveTargetName(m.schema, m.targetSchema, s),
          table: resolveTargetName(m.table, m.targetTable, t),
        });
        const k = tableKey(target);
        this.weights.set(k, Math.max(this.weights.get(k) ?? 0, m.weight));
        routes?.push({ mapping: i, target, manyToOne: m.manyToOne, columnRules: m.columnRules });
      });
      this.cache.set(key, routes);
    }
    return routes;
  }

  /** True when at least one mapping applies to the table. */
  isMapped(schema: string, table: string): boolean {
    return this.routes(schema, table).length > 0;
  }

  /**
   * Target schemas a source schema maps to (for CREATE/DROP DATABASE): one entry per mapping whose
   * schema pattern matches, undefined when none does.
   */
  schemaTargets(schema: string): string[] | undefined {
    const out: string[] = [];
    for (const m of this.mappings) {
      const s = matchPattern(m.schema, schema);
      if (s) out.push(resolveTargetName(m.schema, m.targetSchema, s));
    }
    return out.length ? [...new Set(out)] : undefined;
  }

  /** Apply order weight of a target (highest weight among the mappings writing it; 0 if unknown). */
  weightOf(target: TableRef): number {
    return this.weights.get(tableKey(target)) ?? 0;
  }

  private intern(t: TableRef): TableRef {
    const k = tableKey(t);
    const known = this.targets.get(k);
    if (known) return known;
    this.targets.set(k, t);
    return t;
  }
}
