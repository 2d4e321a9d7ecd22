import type { TableRef } from './model';

/**
 * DDL from the binlog (QUERY events): which statement it is, which tables it touches, and the same
 * statement with every table name rewritten to its mapped target name. A small tokenizer — enough to
 * find table names reliably (quoted or not, schema-qualified, inside MySQL/MariaDB executable
 * comments, around comments) — not a SQL parser: everything that is not a table name is copied
 * byte for byte, so column definitions, options and index names reach the target unchanged.
 *
 * The replicate activity decides by policy (options.ddl) what to do with the analysis:
 * - mapped 'none': not ours, ignore;
 * - mapped 'some': refuse with a clear error (a RENAME or DROP mixing mapped and unmapped tables
 *   cannot be applied on the target without drifting);
 * - mapped 'all': apply `statements` (one per fan-out target), skip, or stop; refuse too when
 *   `problem` is set, and think twice when `manyToOne` (a DROP/TRUNCATE of one shard would empty the
 *   shared target; an ALTER would be replayed once per shard) or `columnRules` (the source DDL does
 *   not describe a target whose columns the mapping includes, excludes or renames).
 */

export type DdlKind =
  | 'create_table'
  | 'alter_table'
  | 'drop_table'
  | 'truncate_table'
  | 'rename_table'
  | 'create_index'
  | 'drop_index'
  | 'create_database'
  | 'drop_database'
  | 'other';

export interface DdlAnalysis {
  kind: DdlKind;
  /** Source tables the statement touches (schema-qualified with the default schema), in statement order. */
  tables: TableRef[];
  /** The database of CREATE/DROP DATABASE. */
  database?: string;
  mapped: 'all' | 'none' | 'some';
  /** The statement with target names, when there is exactly one target per table. */
  rewritten?: string;
  /** One rewritten statement per fan-out target (a single entry, equal to `rewritten`, without fan-out). */
  statements?: string[];
  /** Some touched table shares its target with other source tables (shards or regex into one table). */
  manyToOne: boolean;
  /** Some touched table's mapping has column rules (include/exclude/rename). */
  columnRules: boolean;
  /** Why a mapped statement cannot be rewritten (e.g. tables fanning out to different numbers of targets). */
  problem?: string;
}

/** What the analysis needs from the mapping: Mapper and TableRouter both provide it. */
export interface DdlRouting {
  routes(schema: string, table: string): { target: TableRef; manyToOne: boolean; columnRules: boolean }[];
  schemaTargets(schema: string): string[] | undefined;
}

interface Token {
  type: 'word' | 'quoted' | 'string' | 'punct';
  /** Identifier text (unquoted for backtick names), uppercase-insensitive keywords compare via `upper`. */
  text: string;
  upper: string;
  start: number;
  end: number;
}

/** Split SQL into tokens, skipping comments but reading inside executable comments. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let executable = 0; // depth of open `/*! … */` comments whose content is SQL
  const n = sql.length;
  while (i < n) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '*' && sql[i + 1] === '/' && executable > 0) {
      executable--;
      i += 2;
    } else if (c === '/' && sql[i + 1] === '*') {
      const m = /^\/\*(M?!)(\d*)/.exec(sql.slice(i, i + 12));
      if (m) {
        executable++;
        i += m[0].length;
      } else {
        const close = sql.indexOf('*/', i + 2);
        i = close < 0 ? n : close + 2;
      }
    } else if (
      c === '#' ||
      (c === '-' && sql[i + 1] === '-' && (i + 2 >= n || /\s/.test(sql[i + 2] as string)))
    ) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === '`') {
      let j = i + 1;
      let text = '';
      while (j < n) {
        if (sql[j] === '`') {
          if (sql[j + 1] === '`') {
            text += '`';
            j += 2;
            continue;
          }
          break;
        }
        text += sql[j];
        j++;
      }
      tokens.push({ type: 'quoted', text, upper: text.toUpperCase(), start: i, end: Math.min(j + 1, n) });
      i = j + 1;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < n) {
        if (sql[j] === '\\') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      const text = sql.slice(i, Math.min(j + 1, n));
      tokens.push({ type: 'string', text, upper: text, start: i, end: Math.min(j + 1, n) });
      i = j + 1;
    } else if (/[\p{L}\p{N}_$]/u.test(c) || c.charCodeAt(0) >= 0x80) {
      let j = i + 1;
      while (j < n && (/[\p{L}\p{N}_$]/u.test(sql[j] as string) || sql.charCodeAt(j) >= 0x80)) j++;
      const text = sql.slice(i, j);
      tokens.push({ type: 'word', text, upper: text.toUpperCase(), start: i, end: j });
      i = j;
    } else {
      tokens.push({ type: 'punct', text: c, upper: c, start: i, end: i + 1 });
      i++;
    }
  }
  return tokens;
}

/** A table name as written: its position covers the qualifier too, so the whole name is replaced. */
interface NameRef {
  schema?: string;
  table: string;
  start: number;
  end: number;
}

class Cursor {
  i = 0;
  constructor(readonly tokens: Token[]) {}
  peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }
  /** Consume the keyword sequence if it is next (e.g. 'IF', 'NOT', 'EXISTS'). */
  accept(...words: string[]): boolean {
    for (let k = 0; k < words.length; k++) {
      const t = this.peek(k);
      if (t?.type !== 'word' || t.upper !== words[k]) return false;
    }
    this.i += words.length;
    return true;
  }
  /** Consume one of the keywords if it is next; returns it. */
  oneOf(...words: string[]): string | undefined {
    const t = this.peek();
    if (t?.type === 'word' && words.includes(t.upper)) {
      this.i++;
      return t.upper;
    }
    return undefined;
  }
  isIdent(t: Token | undefined): t is Token {
    return t !== undefined && (t.type === 'word' || t.type === 'quoted');
  }
  /** Read `name` or `schema.name`. */
  name(): NameRef | undefined {
    const first = this.peek();
    if (!this.isIdent(first)) return undefined;
    const dot = this.peek(1);
    const second = this.peek(2);
    if (dot?.type === 'punct' && dot.text === '.' && this.isIdent(second)) {
      this.i += 3;
      return { schema: first.text, table: second.text, start: first.start, end: second.end };
    }
    this.i++;
    return { table: first.text, start: first.start, end: first.end };
  }
  punct(ch: string): boolean {
    const t = this.peek();
    if (t?.type === 'punct' && t.text === ch) {
      this.i++;
      return true;
    }
    return false;
  }
}

interface Parsed {
  kind: DdlKind;
  names: NameRef[];
  database?: NameRef;
}

function parse(tokens: Token[]): Parsed {
  const c = new Cursor(tokens);
  const other: Parsed = { kind: 'other', names: [] };
  const verb = c.oneOf('CREATE', 'ALTER', 'DROP', 'TRUNCATE', 'RENAME');
  switch (verb) {
    case 'CREATE': {
      c.accept('OR', 'REPLACE');
      c.oneOf('TEMPORARY');
      if (c.oneOf('TABLE')) {
        c.accept('IF', 'NOT', 'EXISTS');
        const name = c.name();
        if (!name) return other;
        return { kind: 'create_table', names: [name, ...tableRefsAfter(c, true)] };
      }
      c.oneOf('ONLINE', 'OFFLINE');
      c.oneOf('UNIQUE', 'FULLTEXT', 'SPATIAL');
      if (c.oneOf('INDEX', 'KEY')) {
        c.accept('IF', 'NOT', 'EXISTS');
        c.name(); // the index name
        const on = findWordAtDepth0(c, 'ON');
        if (!on) return other;
        const name = c.name();
        return name ? { kind: 'create_index', names: [name] } : other;
      }
      if (c.oneOf('DATABASE', 'SCHEMA')) {
        c.accept('IF', 'NOT', 'EXISTS');
        const db = c.name();
        return db && db.schema === undefined ? { kind: 'create_database', names: [], database: db } : other;
      }
      return other;
    }
    case 'ALTER': {
      c.oneOf('ONLINE', 'OFFLINE');
      c.oneOf('IGNORE');
      if (!c.oneOf('TABLE')) return other;
      c.accept('IF', 'EXISTS');
      const name = c.name();
      if (!name) return other;
      return { kind: 'alter_table', names: [name, ...tableRefsAfter(c, false)] };
    }
    case 'DROP': {
      c.oneOf('TEMPORARY');
      if (c.oneOf('TABLE', 'TABLES')) {
        c.accept('IF', 'EXISTS');
        const names: NameRef[] = [];
        do {
          const name = c.name();
          if (!name) return other;
          names.push(name);
        } while (c.punct(','));
        return { kind: 'drop_table', names };
      }
      c.oneOf('ONLINE', 'OFFLINE');
      if (c.oneOf('INDEX', 'KEY')) {
        c.accept('IF', 'EXISTS');
        c.name();
        if (!c.oneOf('ON')) return other;
        const name = c.name();
        return name ? { kind: 'drop_index', names: [name] } : other;
      }
      if (c.oneOf('DATABASE', 'SCHEMA')) {
        c.accept('IF', 'EXISTS');
        const db = c.name();
        return db && db.schema === undefined ? { kind: 'drop_database', names: [], database: db } : other;
      }
      return other;
    }
    case 'TRUNCATE': {
      c.oneOf('TABLE');
      const name = c.name();
      return name ? { kind: 'truncate_table', names: [name] } : other;
    }
    case 'RENAME': {
      if (!c.oneOf('TABLE', 'TABLES')) return other;
      c.accept('IF', 'EXISTS');
      const names: NameRef[] = [];
      do {
        const from = c.name();
        if (c.oneOf('WAIT')) c.i++;
        c.oneOf('NOWAIT');
        if (!from || !c.oneOf('TO')) return other;
        const to = c.name();
        if (!to) return other;
        names.push(from, to);
      } while (c.punct(','));
      return { kind: 'rename_table', names };
    }
    default:
      return other;
  }
}

/** Advance to the keyword outside parentheses; true when found (the cursor is then after it). */
function findWordAtDepth0(c: Cursor, word: string): boolean {
  let depth = 0;
  while (c.peek()) {
    const t = c.peek() as Token;
    c.i++;
    if (t.type === 'punct' && t.text === '(') depth++;
    else if (t.type === 'punct' && t.text === ')') depth--;
    else if (depth === 0 && t.type === 'word' && t.upper === word) return true;
  }
  return false;
}

/**
 * Other tables named in the rest of a CREATE/ALTER TABLE: `LIKE t` (CREATE), `REFERENCES t` (foreign
 * keys) and `RENAME [TO|AS] t` (ALTER, not RENAME COLUMN/INDEX/KEY).
 */
function tableRefsAfter(c: Cursor, create: boolean): NameRef[] {
  const out: NameRef[] = [];
  let depth = 0;
  let first = true;
  while (c.peek()) {
    const t = c.peek() as Token;
    if (t.type === 'punct' && t.text === '(') {
      depth++;
      c.i++;
      continue;
    }
    if (t.type === 'punct' && t.text === ')') {
      depth--;
      c.i++;
      continue;
    }
    const atStart = first;
    first = false;
    if (t.type !== 'word') {
      c.i++;
      continue;
    }
    c.i++;
    if (t.upper === 'REFERENCES') {
      const name = c.name();
      if (name) out.push(name);
    } else if (create && t.upper === 'LIKE' && atStart) {
      const name = c.name();
      if (name) out.push(name);
    } else if (!create && depth === 0 && t.upper === 'RENAME') {
      if (c.oneOf('COLUMN', 'INDEX', 'KEY')) continue;
      c.oneOf('TO', 'AS');
      const name = c.name();
      if (name) out.push(name);
    }
  }
  return out;
}

/** Backtick-quote an identifier for MySQL/MariaDB (backticks doubled). */
export function quoteIdent(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

/**
 * Analyze one DDL statement. `defaultSchema` is the QUERY event's current database, used for names
 * written without a schema. Target names in the rewrite are always schema-qualified and quoted, so
 * the statement runs the same whatever the target connection's current database is.
 */
export function analyzeDdl(sql: string, defaultSchema: string | undefined, routing: DdlRouting): DdlAnalysis {
  const parsed = parse(tokenize(sql));
  const base = { kind: parsed.kind, manyToOne: false, columnRules: false };
  if (parsed.database) return analyzeDatabase(sql, parsed.database, parsed.kind, routing);
  if (parsed.kind === 'other') return { ...base, tables: [], mapped: 'none' };

  const tables: TableRef[] = [];
  let unresolved = false;
  const routesPerName = parsed.names.map((n) => {
    const schema = n.schema ?? defaultSchema;
    if (schema === undefined) {
      unresolved = true;
      tables.push({ schema: '', table: n.table });
      return [];
    }
    tables.push({ schema, table: n.table });
    return routing.routes(schema, n.table);
  });
  const mappedCount = routesPerName.filter((r) => r.length > 0).length;
  const mapped = mappedCount === 0 ? 'none' : mappedCount === routesPerName.length ? 'all' : 'some';
  const all = routesPerName.flat();
  const result: DdlAnalysis = {
    ...base,
    tables,
    mapped,
    manyToOne: all.some((r) => r.manyToOne),
    columnRules: all.some((r) => r.columnRules),
  };
  if (unresolved && mapped !== 'none') {
    result.problem = 'a table name has no schema and the statement has no default database';
  }
  if (mapped !== 'all' || result.problem) return result;

  const fanOut = routesPerName[0]?.length ?? 0;
  if (routesPerName.some((r) => r.length !== fanOut)) {
    result.problem = 'the tables of this statement map to different numbers of targets';
    return result;
  }
  const statements: string[] = [];
  for (let k = 0; k < fanOut; k++) {
    statements.push(
      replaceSpans(
        sql,
        parsed.names.map((n, j) => {
          const target = routesPerName[j]![k]!.target;
          return {
            start: n.start,
            end: n.end,
            text: `${quoteIdent(target.schema)}.${quoteIdent(target.table)}`,
          };
        }),
      ),
    );
  }
  result.statements = statements;
  if (statements.length === 1) result.rewritten = statements[0];
  return result;
}

function analyzeDatabase(sql: string, db: NameRef, kind: DdlKind, routing: DdlRouting): DdlAnalysis {
  const targets = routing.schemaTargets(db.table);
  const result: DdlAnalysis = {
    kind,
    tables: [],
    database: db.table,
    mapped: targets ? 'all' : 'none',
    manyToOne: false,
    columnRules: false,
  };
  if (!targets) return result;
  result.statements = targets.map((t) =>
    replaceSpans(sql, [{ start: db.start, end: db.end, text: quoteIdent(t) }]),
  );
  if (result.statements.length === 1) result.rewritten = result.statements[0];
  return result;
}

function replaceSpans(sql: string, spans: { start: number; end: number; text: string }[]): string {
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const s of sorted) {
    out += sql.slice(at, s.start) + s.text;
    at = s.end;
  }
  return out + sql.slice(at);
}
