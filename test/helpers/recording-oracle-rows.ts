import { oracleError, type RecordingStatementModel } from './recording-oracle';

/**
 * Rows of user tables in a recording Oracle database, for the tables a test declares: enough to let a
 * pipeline write rows and a verification read them back. Recognised statements (the applier's shapes,
 * connectors/oracle/dialect.ts): MERGE … USING (SELECT … FROM dual), UPDATE … WHERE key, INSERT,
 * DELETE … WHERE key; and the verification's row reads (connectors/oracle/row-access.ts:
 * `SELECT expr AS "C1", … FROM t [WHERE …]`, conditions made of `=`, `>`, AND, OR, NOT, IN over key
 * columns and binds). Changes are per connection until COMMIT, as in the other models.
 *
 * What it does not model: column types other than NUMBER (kept as decimal text) and character types
 * (kept as given); NULL in conditions (treated as "no match"); row locks; constraints other than the
 * key; DELETE of key-less tables (the ROWID form) and any other SQL (left to the default answers).
 */

export type ModelColumnClass = 'number' | 'text';

interface ModelTable {
  /** Quoted catalog names of the key columns, in key order. */
  key: string[];
  classes: Map<string, ModelColumnClass>;
}

type Rows = Map<string, Map<string, unknown>>;
type State = Map<string, Rows>;
type Change = (s: State) => void;

/** Decimal text as Oracle's NUMBER keeps it: no leading '+', no trailing fraction zeros. */
function decimal(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  let s = String(v).trim().replace(/^\+/, '');
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

function clone(s: State): State {
  return new Map([...s].map(([t, rows]) => [t, new Map([...rows].map(([k, r]) => [k, new Map(r)]))]));
}

/** The quoted column and bind number of `"COL" = TO_NUMBER(:3)` / `TO_NUMBER(:3) "COL"`-style parts. */
const BIND = /:(\d+)/;
const COLUMN = /"([^"]+)"\s*$/;

export class RecordingTableRows implements RecordingStatementModel {
  committed: State = new Map();
  private readonly tables = new Map<string, ModelTable>();
  private readonly pending = new Map<number, Change[]>();

  /** Declares a table (`"OWNER"."TABLE"`, catalog names) whose rows this model keeps. */
  define(table: string, key: string[], classes: Record<string, ModelColumnClass>): void {
    this.tables.set(table, { key, classes: new Map(Object.entries(classes)) });
    if (!this.committed.has(table)) this.committed.set(table, new Map());
  }

  /** Committed rows of a table, by catalog column name, in key order. */
  rows(table: string): Array<Record<string, unknown>> {
    const t = this.mustTable(table);
    return [...(this.committed.get(table) ?? new Map()).values()]
      .map((r) => Object.fromEntries(r))
      .sort((a, b) => this.compareKeys(t, a, b));
  }

  /** Behind every pipeline's back: changes (or adds) a committed row. */
  put(table: string, row: Record<string, unknown>): void {
    const t = this.mustTable(table);
    const stored = new Map(Object.entries(row).map(([c, v]) => [c, this.store(t, c, v)]));
    const rows = this.committed.get(table) as Rows;
    const k = this.keyOf(t, stored);
    rows.set(k, new Map([...(rows.get(k) ?? new Map()), ...stored]));
  }

  /** Behind every pipeline's back: deletes a committed row by its key values. */
  remove(table: string, key: unknown[]): boolean {
    const t = this.mustTable(table);
    const k = JSON.stringify(key.map((v, i) => this.store(t, t.key[i] as string, v)));
    return (this.committed.get(table) as Rows).delete(k);
  }

  end(connection: number, commit: boolean): void {
    const list = this.pending.get(connection) ?? [];
    this.pending.delete(connection);
    if (commit) for (const c of list) c(this.committed);
  }

  executeMany(connection: number, sql: string, binds: unknown[][]): number[] | undefined {
    const apply = this.writer(sql);
    if (!apply) return undefined;
    const counts: number[] = [];
    const change: Change = (s) => {
      counts.length = 0;
      for (const b of binds) counts.push(apply(s, b));
    };
    change(this.view(connection));
    const list = this.pending.get(connection) ?? [];
    list.push(change);
    this.pending.set(connection, list);
    return [...counts];
  }

  execute(
    connection: number,
    sql: string,
    binds: unknown[],
  ): { rows?: unknown[][]; rowsAffected?: number } | undefined {
    const m = /^SELECT (.+) FROM ("[^"]+"\."[^"]+")(?: WHERE (.+))?$/s.exec(sql);
    if (m && this.tables.has(m[2] as string)) return { rows: this.select(connection, m, binds) };
    const counts = this.executeMany(connection, sql, [binds]);
    return counts ? { rowsAffected: counts[0] } : undefined;
  }

  private view(connection: number): State {
    const s = clone(this.committed);
    for (const c of this.pending.get(connection) ?? []) c(s);
    return s;
  }

  private mustTable(table: string): ModelTable {
    const t = this.tables.get(table);
    if (!t) throw new Error(`recording rows: table ${table} is not declared`);
    return t;
  }

  private store(t: ModelTable, column: string, v: unknown): unknown {
    return t.classes.get(column) === 'number' ? decimal(v) : (v ?? null);
  }

  private keyOf(t: ModelTable, row: Map<string, unknown>): string {
    return JSON.stringify(t.key.map((c) => row.get(c) ?? null));
  }

  private compare(t: ModelTable, column: string, a: unknown, b: unknown): number {
    if (t.classes.get(column) === 'number') return Number(a) - Number(b);
    return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
  }

  private compareKeys(t: ModelTable, a: Record<string, unknown>, b: Record<string, unknown>): number {
    for (const c of t.key) {
      const d = this.compare(t, c, a[c], b[c]);
      if (d !== 0) return d;
    }
    return 0;
  }

  /** `"COL" <expr with :n>` pairs of a comma list (MERGE's source list, UPDATE's SET, conditions). */
  private static pairs(list: string, columnFirst: boolean): Array<{ column: string; bind: number }> {
    return list.split(/,\s*(?=(?:TO_\w+\()?[":])/).map((part) => {
      const column = columnFirst ? /^"([^"]+)"/.exec(part.trim())?.[1] : COLUMN.exec(part)?.[1];
      const bind = BIND.exec(part)?.[1];
      if (!column || !bind) throw new Error(`recording rows: cannot read "${part}"`);
      return { column, bind: Number(bind) };
    });
  }

  /** The change one bind row of a recognised write makes (returns its row count), or undefined. */
  private writer(sql: string): ((s: State, b: unknown[]) => number) | undefined {
    let m = /^MERGE INTO (\S+) t USING \(SELECT (.+) FROM dual\) s ON \(/.exec(sql);
    if (m && this.tables.has(m[1] as string)) {
      const name = m[1] as string;
      const t = this.mustTable(name);
      const cols = RecordingTableRows.pairs(m[2] as string, false);
      return (s, b) => {
        const row = new Map(cols.map((c) => [c.column, this.store(t, c.column, b[c.bind - 1])]));
        const rows = s.get(name) as Rows;
        const k = this.keyOf(t, row);
        rows.set(k, new Map([...(rows.get(k) ?? new Map()), ...row]));
        return 1;
      };
    }
    m = /^UPDATE (\S+) SET (.+) WHERE (.+)$/.exec(sql);
    if (m && this.tables.has(m[1] as string)) {
      const name = m[1] as string;
      const t = this.mustTable(name);
      const sets = RecordingTableRows.pairs(m[2] as string, true);
      const where = RecordingTableRows.pairs((m[3] as string).replace(/ AND /g, ', '), true);
      return (s, b) => {
        const rows = s.get(name) as Rows;
        const k = JSON.stringify(where.map((w) => this.store(t, w.column, b[w.bind - 1])));
        const row = rows.get(k);
        if (!row) return 0;
        for (const c of sets) row.set(c.column, this.store(t, c.column, b[c.bind - 1]));
        return 1;
      };
    }
    m = /^INSERT INTO (\S+) \((.+?)\) VALUES \((.+)\)$/.exec(sql);
    if (m && this.tables.has(m[1] as string)) {
      const name = m[1] as string;
      const t = this.mustTable(name);
      const columns = (m[2] as string).split(', ').map((c) => c.replace(/"/g, ''));
      const values = (m[3] as string).split(/,\s*(?=(?:TO_\w+\()?:)/).map((v) => Number(BIND.exec(v)?.[1]));
      return (s, b) => {
        const row = new Map(columns.map((c, i) => [c, this.store(t, c, b[(values[i] as number) - 1])]));
        const rows = s.get(name) as Rows;
        const k = this.keyOf(t, row);
        if (rows.has(k)) throw oracleError('ORA-00001', 'unique constraint violated');
        rows.set(k, row);
        return 1;
      };
    }
    m = /^DELETE FROM (\S+) WHERE (?!ROWID)(.+)$/.exec(sql);
    if (m && this.tables.has(m[1] as string)) {
      const name = m[1] as string;
      const t = this.mustTable(name);
      const where = RecordingTableRows.pairs((m[2] as string).replace(/ AND /g, ', '), true);
      return (s, b) =>
        (s.get(name) as Rows).delete(JSON.stringify(where.map((w) => this.store(t, w.column, b[w.bind - 1]))))
          ? 1
          : 0;
    }
    return undefined;
  }

  /** A row read: each select item's column (TO_CHAR(…, 'TM9') of a NUMBER gives its decimal text). */
  private select(connection: number, m: RegExpExecArray, binds: unknown[]): unknown[][] {
    const name = m[2] as string;
    const t = this.mustTable(name);
    const items = (m[1] as string)
      .split(/ AS "C\d+"(?:, |$)/)
      .filter((item) => item !== '')
      .map((item) => {
        const column = /^(?:TO_CHAR\("([^"]+)", 'TM9'\)|"([^"]+)")$/.exec(item);
        if (!column) throw new Error(`recording rows: select item not modelled: ${item}`);
        return (column[1] ?? column[2]) as string;
      });
    const test = m[3]
      ? new Condition(m[3], binds, (c, a, b) => this.compare(t, c, a, b)).parse()
      : () => true;
    const rows = [...((this.view(connection).get(name) as Rows) ?? new Map()).values()];
    return rows.filter((r) => test(r)).map((r) => items.map((c) => r.get(c) ?? null));
  }
}

type Predicate = (row: Map<string, unknown>) => boolean;

/** The conditions of a row read: `=`, `>`, IN, AND, OR, NOT, parentheses, `1 = 0`; binds as `:n` or `TO_NUMBER(:n)`. */
class Condition {
  private readonly tokens: string[];
  private at = 0;

  constructor(
    text: string,
    private readonly binds: unknown[],
    private readonly compare: (column: string, a: unknown, b: unknown) => number,
  ) {
    this.tokens = [];
    const re = /\s*(TO_NUMBER\(:\d+\)|:\d+|"[^"]+"|\d+|AND\b|OR\b|NOT\b|IN\b|[(),=>])/y;
    let end = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      this.tokens.push(m[1] as string);
      end = re.lastIndex;
    }
    if (text.slice(end).trim()) throw new Error(`recording rows: condition not modelled: ${text.slice(end)}`);
  }

  parse(): Predicate {
    const p = this.or();
    if (this.at !== this.tokens.length)
      throw new Error(`recording rows: condition not modelled near ${this.tokens[this.at]}`);
    return p;
  }

  private peek(): string | undefined {
    return this.tokens[this.at];
  }

  private take(expected?: string): string {
    const t = this.tokens[this.at++];
    if (t === undefined || (expected !== undefined && t !== expected))
      throw new Error(`recording rows: expected ${expected ?? 'more'} in a condition, found ${t}`);
    return t;
  }

  private or(): Predicate {
    const parts = [this.and()];
    while (this.peek() === 'OR') {
      this.take();
      parts.push(this.and());
    }
    return (r) => parts.some((p) => p(r));
  }

  private and(): Predicate {
    const parts = [this.unary()];
    while (this.peek() === 'AND') {
      this.take();
      parts.push(this.unary());
    }
    return (r) => parts.every((p) => p(r));
  }

  private unary(): Predicate {
    if (this.peek() === 'NOT') {
      this.take();
      const p = this.unary();
      return (r) => !p(r);
    }
    if (this.peek() === '(') {
      this.take();
      const p = this.or();
      this.take(')');
      return p;
    }
    const left = this.operand();
    const op = this.take();
    if (op === 'IN') {
      this.take('(');
      const list = [this.operand()];
      while (this.peek() === ',') {
        this.take();
        list.push(this.operand());
      }
      this.take(')');
      return (r) => list.some((o) => this.holds('=', left, o, r));
    }
    if (op !== '=' && op !== '>') throw new Error(`recording rows: operator ${op} not modelled`);
    const right = this.operand();
    return (r) => this.holds(op, left, right, r);
  }

  private operand(): { column?: string; value?: unknown } {
    const t = this.take();
    if (t.startsWith('"')) return { column: t.slice(1, -1) };
    const bind = /:(\d+)/.exec(t);
    if (bind) return { value: this.binds[Number(bind[1]) - 1] };
    if (/^\d+$/.test(t)) return { value: t };
    throw new Error(`recording rows: operand ${t} not modelled`);
  }

  private holds(
    op: string,
    l: { column?: string; value?: unknown },
    r: { column?: string; value?: unknown },
    row: Map<string, unknown>,
  ): boolean {
    const column = l.column ?? r.column ?? '';
    const a = l.column !== undefined ? row.get(l.column) : l.value;
    const b = r.column !== undefined ? row.get(r.column) : r.value;
    if (a === null || a === undefined || b === null || b === undefined) return false;
    const d = column ? this.compare(column, a, b) : Number(a) - Number(b);
    return op === '=' ? d === 0 : d > 0;
  }
}
