import { z } from 'zod';
import { nameSchema } from '../config/datasources';
import { regionSchema } from '../config/regions';
import {
  checkTargetPattern,
  compilePattern,
  compileTargetPattern,
  type NamePattern,
  PatternError,
  type TargetNamePattern,
} from './mapping/patterns';

/**
 * Pipeline configuration: what the API, the CLI (YAML or JSON) and the workflow accept.
 * `pipelineConfigSchema` checks the shape (unknown fields are rejected everywhere);
 * `validatePipelineConfig` adds the checks a schema cannot express (patterns, ranges, column lists).
 * Reference with a YAML example: docs/pipeline-config.md.
 */

/** A source name: literal, shard range `orders_[00-31]` or regex `/^log_\d+$/` (see mapping/patterns.ts). */
const namePatternSchema = z.string().min(1).max(256);
/** A target name: literal or a shard range that maps index to index. */
const targetNameSchema = z.string().min(1).max(64);

export const filterOps = ['=', '!=', '<', '<=', '>', '>=', 'in', 'isNull', 'notNull', 'like'] as const;
export type FilterOp = (typeof filterOps)[number];

/** A constant in a filter: compared by the column's type (see mapping/filter.ts). */
const filterScalarSchema = z.union([z.string(), z.number(), z.boolean()]);
export type FilterScalar = z.infer<typeof filterScalarSchema>;

/**
 * A row filter: a tree of `all` / `any` / `not` over conditions on SOURCE column names.
 * Structured data only — user text is never evaluated as code or SQL.
 */
export interface FilterExpr {
  all?: FilterExpr[];
  any?: FilterExpr[];
  not?: FilterExpr;
  column?: string;
  op?: FilterOp;
  value?: FilterScalar | FilterScalar[];
}

/**
 * The rules of the refinement below, as JSON Schema for the OpenAPI document (zod cannot derive them
 * from a refinement): exactly one form, and the value each operator takes.
 */
const filterFormsInDocument = (() => {
  const only = (...names: string[]) => ({ required: names, propertyNames: { enum: names } });
  const scalar = { type: ['string', 'number', 'boolean'] };
  return {
    oneOf: [
      only('all'),
      only('any'),
      only('not'),
      { ...only('column', 'op'), properties: { op: { enum: ['isNull', 'notNull'] } } },
      { ...only('column', 'op', 'value'), properties: { op: { const: 'in' }, value: { type: 'array' } } },
      { ...only('column', 'op', 'value'), properties: { op: { const: 'like' }, value: { type: 'string' } } },
      {
        ...only('column', 'op', 'value'),
        properties: { op: { enum: ['=', '!=', '<', '<=', '>', '>='] }, value: scalar },
      },
    ],
  };
})();

// One object shape with a refinement (rather than a union) so that an error names the exact bad field.
export const filterSchema: z.ZodType<FilterExpr> = z.lazy(() =>
  z
    .object({
      all: z.array(filterSchema).min(1).optional(),
      any: z.array(filterSchema).min(1).optional(),
      not: filterSchema.optional(),
      column: z.string().min(1).max(64).optional(),
      op: z.enum(filterOps).optional(),
      value: z.union([filterScalarSchema, z.array(filterScalarSchema).min(1)]).optional(),
    })
    .strict()
    .superRefine((f, ctx) => {
      const forms = [f.all, f.any, f.not, f.column ?? f.op].filter((x) => x !== undefined).length;
      if (forms !== 1) {
        ctx.addIssue({
          code: 'custom',
          message:
            'a filter is exactly one of { all: [...] }, { any: [...] }, { not: {...} } or { column, op, value }',
        });
        return;
      }
      if (f.column === undefined && f.op === undefined) {
        if (f.value !== undefined)
          ctx.addIssue({ code: 'custom', path: ['value'], message: 'value needs column and op' });
        return;
      }
      if (f.column === undefined)
        ctx.addIssue({ code: 'custom', path: ['column'], message: 'column is required' });
      if (f.op === undefined) {
        ctx.addIssue({ code: 'custom', path: ['op'], message: 'op is required' });
        return;
      }
      if (f.op === 'isNull' || f.op === 'notNull') {
        if (f.value !== undefined)
          ctx.addIssue({ code: 'custom', path: ['value'], message: `${f.op} takes no value` });
      } else if (f.op === 'in') {
        if (!Array.isArray(f.value))
          ctx.addIssue({ code: 'custom', path: ['value'], message: 'in needs a list of values' });
      } else if (f.value === undefined || Array.isArray(f.value)) {
        ctx.addIssue({
          code: 'custom',
          path: ['value'],
          message: `${f.op} needs one value (compare with NULL using isNull / notNull)`,
        });
      } else if (f.op === 'like' && typeof f.value !== 'string') {
        ctx.addIssue({ code: 'custom', path: ['value'], message: 'like needs a string pattern' });
      }
    })
    .meta(filterFormsInDocument),
);

/** An included column, optionally renamed on the target. */
const includeEntrySchema = z.union([
  z.string().min(1).max(64),
  z.object({ from: z.string().min(1).max(64), to: z.string().min(1).max(64) }).strict(),
]);

export const columnsSchema = z
  .object({
    /** Only these source columns are sent (with optional renames). */
    include: z.array(includeEntrySchema).min(1).optional(),
    /** All source columns except these are sent. */
    exclude: z.array(z.string().min(1).max(64)).min(1).optional(),
    /** FIELD mode: source column names that travel together (one changed → the whole group is written). */
    groups: z
      .array(z.array(z.string().min(1).max(64)).min(2))
      .min(1)
      .optional(),
  })
  .strict();

export const mappingSchema = z
  .object({
    source: z.object({ schema: namePatternSchema, table: namePatternSchema }).strict(),
    /** Defaults: the source names. */
    target: z
      .object({ schema: targetNameSchema.optional(), table: targetNameSchema.optional() })
      .strict()
      .default({}),
    columns: columnsSchema.optional(),
    filter: filterSchema.optional(),
    /** Path of a TypeScript/JavaScript module exporting a TransformFn (see mapping/transform.ts). */
    transform: z
      .string()
      .min(1)
      .max(1024)
      .regex(/\.(ts|js|cjs|mjs|mts|cts)$/, 'must be the path of a .ts or .js module')
      .optional(),
    /** Apply order of target tables in a batch: lower weights first (parents before children). */
    weight: z.number().int().min(0).max(1_000_000).default(0),
    /**
     * `pure`: the transform is a pure function of the row (no I/O, clock, randomness or state; it keeps
     * the key and the target table), so a verification applies it to the source rows and compares the
     * result (docs/verification.md). Without it, a mapping with a transform is not verified.
     */
    verify: z.enum(['pure']).optional(),
  })
  .strict();

// [bidirectional] (docs/bidirectional.md) ---------------------------------------------------------------

/** How a write conflict (the target row changed concurrently) is resolved; see docs/bidirectional.md. */
export const conflictPolicies = ['sourceWins', 'targetWins', 'lastWriterWins', 'sitePriority'] as const;
export type ConflictPolicy = (typeof conflictPolicies)[number];

export const channelConflictSchema = z
  .object({
    policy: z.enum(conflictPolicies).default('sourceWins'),
    /** lastWriterWins: the target column (timestamp or version) whose greater value wins. */
    column: z.string().min(1).max(64).optional(),
    /** sitePriority and ties of lastWriterWins: the higher of the two opposite pipelines' values wins. */
    sitePriority: z.number().int().min(-1_000_000).max(1_000_000).default(0),
  })
  .strict();

export const channelSchema = z
  .object({
    /** Shared by the two opposite pipelines of one active-active pair. `*` is reserved (suppress-sync marker). */
    id: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits, _ . : - only'),
    conflict: channelConflictSchema.optional(),
  })
  .strict()
  .refine((c) => c.conflict?.policy !== 'lastWriterWins' || c.conflict.column !== undefined, {
    message: 'conflict.policy lastWriterWins needs conflict.column (a timestamp or version column)',
    path: ['conflict', 'column'],
  })
  .meta({
    // The refinement above, for the OpenAPI document: not lastWriterWins, or a column.
    anyOf: [
      {
        not: {
          required: ['conflict'],
          properties: {
            conflict: { required: ['policy'], properties: { policy: { const: 'lastWriterWins' } } },
          },
        },
      },
      { properties: { conflict: { required: ['column'] } } },
    ],
  });
export type ChannelConfig = z.infer<typeof channelSchema>;

/** options.batchSize when not given. */
export const DEFAULT_BATCH_SIZE = 25_000;

/** options.maxBatchBytes when not given (also for configs stored before the option existed). */
export const DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024;

export const optionsSchema = z
  .object({
    /**
     * Source row changes after which a batch is committed at the next transaction boundary. Otter's
     * default is 6000; ours is larger because a backlog drains ~12 % faster with fewer, larger batches
     * (docs/pipeline-config.md, "Tuning batchSize"), while maxBatchBytes bounds the memory.
     */
    batchSize: z.number().int().min(1).max(250_000).default(DEFAULT_BATCH_SIZE),
    /** A batch is committed at the first transaction boundary after this delay since it opened. */
    maxBatchDelayMs: z.number().int().min(0).max(600_000).default(200),
    /**
     * Source row-event bytes (of mapped tables) after which a batch is committed at the next transaction
     * boundary, or, inside a larger source transaction, applied as a slice: bounds worker memory when
     * rows are wide, whatever batchSize says.
     */
    maxBatchBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024 * 1024)
      .default(DEFAULT_MAX_BATCH_BYTES),
    /** ROW: write whole rows; FIELD: write only changed columns (and their groups). */
    syncMode: z.enum(['ROW', 'FIELD']).default('ROW'),
    /** DDL on mapped tables: apply (names rewritten), skip, or stop with an error. */
    ddl: z.enum(['apply', 'skip', 'stop']).default('stop'),
    /** On an apply error: stop, or retry the batch row by row and report the failing rows. */
    onError: z.enum(['stop', 'retryRowByRow']).default('stop'),
    /** An UPDATE or DELETE that finds no target row: report it (and write the update), or stop. */
    missingRow: z.enum(['report', 'stop']).default('report'),
    /** Copy existing rows before streaming (backfill). */
    loadExistingData: z.boolean().default(false),
    /** Reserved for parallel apply lanes; only 1 today (see below). */
    parallelism: z
      .number()
      .int()
      .min(1)
      // Separate lanes would commit parts of one source transaction separately (the target would
      // show half of it): refused until a design keeps that rule, rather than accepted and ignored.
      .max(1, 'parallel apply lanes are not supported yet: the only value is 1')
      .default(1),
    /** [bidirectional] Active-active channel: loop prevention and conflict handling (docs/bidirectional.md). */
    channel: channelSchema.optional(),
  })
  .strict();

export const startSchema = z.union([
  z.literal('current'),
  z.object({ file: z.string().min(1).max(512), pos: z.number().int().min(4) }).strict(),
  z.object({ gtid: z.string().min(1).max(65_536) }).strict(),
]);

export const pipelineConfigSchema = z
  .object({
    name: nameSchema,
    /** Datasource names (see src/config/datasources.ts). */
    source: nameSchema,
    target: nameSchema,
    /** Where the activities run (`us-east` → task queue `otterflow-us-east`); none: the base task queue. */
    region: regionSchema.optional(),
    mappings: z.array(mappingSchema).min(1).max(10_000),
    options: optionsSchema.prefault({}),
    /** Where to start reading the source on the first run; later runs resume from the target's checkpoint. */
    start: startSchema.default('current'),
  })
  .strict();

/** A parsed pipeline configuration with every default filled in. */
export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;
/** What a user writes (defaults optional). */
export type PipelineConfigInput = z.input<typeof pipelineConfigSchema>;
export type MappingConfig = z.infer<typeof mappingSchema>;
export type ColumnsConfig = z.infer<typeof columnsSchema>;
export type PipelineOptions = z.infer<typeof optionsSchema>;
export type StartPosition = z.infer<typeof startSchema>;
export type SyncMode = PipelineOptions['syncMode'];

/** One configuration problem: a dotted path (`mappings.0.source.table`) and a message for a person. */
export interface ConfigError {
  path: string;
  message: string;
}

/** Flatten a zod error into path + message pairs, choosing the closest branch of a union. */
export function formatConfigError(err: z.ZodError): ConfigError[] {
  return flattenIssues(err.issues, []);
}

type Issue = z.core.$ZodIssue;

function flattenIssues(issues: readonly Issue[], prefix: PropertyKey[]): ConfigError[] {
  const out: ConfigError[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the branch that got furthest (deepest path, then fewest problems): usually the one meant.
      const branches = issue.errors.map((b) => flattenIssues(b, path));
      const best = branches.sort((a, b) => maxDepth(b) - maxDepth(a) || a.length - b.length)[0] ?? [];
      if (maxDepth(best) > path.length) {
        out.push(...best);
        continue;
      }
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: dotted([...path, key]), message: 'unknown field' });
      continue;
    }
    out.push({ path: dotted(path), message: issue.message });
  }
  return out;
}

function maxDepth(errors: readonly ConfigError[]): number {
  return Math.max(0, ...errors.map((e) => (e.path === '' ? 0 : e.path.split('.').length)));
}

function dotted(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.');
}

/**
 * `stage` says which check failed: `schema`, what the OpenAPI document states (a 400 from the API), or
 * `rules`, what no JSON Schema can say — patterns that must compile, rules across fields (a 422).
 */
export type ValidationResult =
  | { ok: true; config: PipelineConfig }
  | { ok: false; stage: 'schema' | 'rules'; errors: ConfigError[] };

/**
 * Parse and check a configuration: the shape (zod) and then what a schema cannot say — patterns that
 * compile, shard ranges that make sense, column lists without clashes. Use this, not the bare schema,
 * wherever a configuration enters the system (API, CLI, workflow config update).
 */
export function validatePipelineConfig(input: unknown): ValidationResult {
  const parsed = pipelineConfigSchema.safeParse(input);
  if (!parsed.success) return { ok: false, stage: 'schema', errors: formatConfigError(parsed.error) };
  const config = parsed.data;
  const errors: ConfigError[] = [];
  const seen = new Map<string, number>();
  config.mappings.forEach((m, i) => {
    const at = (...p: PropertyKey[]) => dotted(['mappings', i, ...p]);
    const schema = checkNames(
      m.source.schema,
      m.target.schema,
      at('source', 'schema'),
      at('target', 'schema'),
      errors,
    );
    const table = checkNames(
      m.source.table,
      m.target.table,
      at('source', 'table'),
      at('target', 'table'),
      errors,
    );
    if (
      config.source === config.target &&
      schema?.kind === 'literal' &&
      table?.kind === 'literal' &&
      (m.target.schema ?? m.source.schema) === m.source.schema &&
      (m.target.table ?? m.source.table) === m.source.table
    ) {
      errors.push({ path: at('target'), message: 'the mapping would write a table onto itself' });
    }
    const signature = JSON.stringify([m.source, m.target]);
    const first = seen.get(signature);
    if (first !== undefined) {
      errors.push({ path: at('source'), message: `same source and target as mappings.${first}` });
    } else seen.set(signature, i);
    if (m.columns) checkColumns(m.columns, (...p) => at('columns', ...p), errors);
    if (m.filter) checkFilter(m.filter, (...p) => at('filter', ...p), errors);
  });
  return errors.length ? { ok: false, stage: 'rules', errors } : { ok: true, config };
}

/** Parse or throw an Error whose message lists every problem (for code paths that only throw). */
export function parsePipelineConfig(input: unknown): PipelineConfig {
  const r = validatePipelineConfig(input);
  if (r.ok) return r.config;
  throw new Error(
    `invalid pipeline configuration: ${r.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
  );
}

function checkNames(
  sourceText: string,
  targetText: string | undefined,
  sourcePath: string,
  targetPath: string,
  errors: ConfigError[],
): NamePattern | undefined {
  let source: NamePattern;
  try {
    source = compilePattern(sourceText);
  } catch (e) {
    if (!(e instanceof PatternError)) throw e;
    errors.push({ path: sourcePath, message: e.message });
    return undefined;
  }
  let target: TargetNamePattern;
  try {
    target = compileTargetPattern(targetText);
  } catch (e) {
    if (!(e instanceof PatternError)) throw e;
    errors.push({ path: targetPath, message: e.message });
    return source;
  }
  const problem = checkTargetPattern(source, target);
  if (problem) errors.push({ path: targetPath, message: problem });
  return source;
}

function checkColumns(c: ColumnsConfig, at: (...p: PropertyKey[]) => string, errors: ConfigError[]): void {
  if (c.include && c.exclude) {
    errors.push({ path: at('exclude'), message: 'use either include or exclude, not both' });
    return;
  }
  const targetOf = new Map<string, string>(); // source name → target name, for included columns
  if (c.include) {
    const targets = new Map<string, number>();
    c.include.forEach((entry, j) => {
      const from = typeof entry === 'string' ? entry : entry.from;
      const to = typeof entry === 'string' ? entry : entry.to;
      if (targetOf.has(from))
        errors.push({ path: at('include', j), message: `column ${from} is included twice` });
      targetOf.set(from, to);
      const other = targets.get(to);
      if (other !== undefined) {
        errors.push({
          path: at('include', j),
          message: `target column ${to} is also written by include.${other}`,
        });
      } else targets.set(to, j);
    });
  }
  if (c.exclude) {
    const dup = c.exclude.findIndex((x, j) => c.exclude?.indexOf(x) !== j);
    if (dup >= 0)
      errors.push({ path: at('exclude', dup), message: `column ${c.exclude[dup]} is excluded twice` });
  }
  const grouped = new Map<string, number>();
  c.groups?.forEach((group, g) => {
    group.forEach((col, j) => {
      if (c.include && !targetOf.has(col)) {
        errors.push({ path: at('groups', g, j), message: `column ${col} is not in the include list` });
      }
      if (c.exclude?.includes(col))
        errors.push({ path: at('groups', g, j), message: `column ${col} is excluded` });
      const other = grouped.get(col);
      if (other !== undefined && other !== g) {
        errors.push({ path: at('groups', g, j), message: `column ${col} is also in groups.${other}` });
      } else grouped.set(col, g);
    });
  });
}

function checkFilter(f: FilterExpr, at: (...p: PropertyKey[]) => string, errors: ConfigError[]): void {
  f.all?.forEach((x, j) => {
    checkFilter(x, (...p) => at('all', j, ...p), errors);
  });
  f.any?.forEach((x, j) => {
    checkFilter(x, (...p) => at('any', j, ...p), errors);
  });
  if (f.not) checkFilter(f.not, (...p) => at('not', ...p), errors);
  const values = f.value === undefined ? [] : Array.isArray(f.value) ? f.value : [f.value];
  values.forEach((v, j) => {
    if (typeof v === 'number' && !Number.isFinite(v)) {
      errors.push({
        path: at(...(Array.isArray(f.value) ? ['value', j] : ['value'])),
        message: 'must be finite',
      });
    }
  });
}
