import type mysql from 'mysql2/promise';
import { quoteMysqlTable } from '../connectors/mysql/source';
import type { TableRef } from '../pipeline/model';

/**
 * Checks a re-sync condition before anything runs. The text is spliced into the chunk SELECT as
 * `WHERE (<condition>) AND <key range>`, so it must be one boolean expression over the table and
 * nothing else:
 * - no `;` (a second statement), no comments (`--`, `#`, `/*`: they could cut the key range off);
 * - no subqueries (`SELECT`) and no locking/writing clauses (INTO, FOR UPDATE, LOCK IN SHARE MODE);
 * - then the server parses it: `EXPLAIN SELECT 1 FROM t WHERE (<condition>)` is read-only and fails
 *   with the server's message on a syntax error or an unknown column.
 * Rejected text throws `InvalidWhereError` (the API answers 400 with its message).
 */
export class InvalidWhereError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidWhereError';
  }
}

const FORBIDDEN: [RegExp, string][] = [
  [/;/, 'a ";" (only one expression is allowed)'],
  [/--|#|\/\*|\*\//, 'a comment'],
  [/\bselect\b/i, 'a subquery (SELECT)'],
  [/\binto\b/i, 'INTO'],
  [/\bfor\s+update\b|\block\s+in\s+share\s+mode\b/i, 'a locking clause'],
  [/\b(sleep|benchmark|get_lock|release_lock|load_file)\s*\(/i, 'a function that waits or reads files'],
];

/** The syntactic screen alone (pure): returns the problem, or undefined when the text may be sent to EXPLAIN. */
export function screenWhere(where: string): string | undefined {
  if (where.trim() === '') return 'the condition is empty';
  if (where.length > 10_000) return 'the condition is longer than 10000 characters';
  for (const [re, what] of FORBIDDEN) if (re.test(where)) return `the condition must not contain ${what}`;
  return undefined;
}

/** Screens and EXPLAINs `where` on the source (read-only); returns the row estimate of the EXPLAIN. */
export async function validateWhere(
  source: mysql.Connection,
  table: TableRef,
  where: string,
): Promise<number> {
  const problem = screenWhere(where);
  if (problem)
    throw new InvalidWhereError(`invalid WHERE condition for ${table.schema}.${table.table}: ${problem}`);
  const from = quoteMysqlTable(table);
  try {
    const [rows] = await source.query<mysql.RowDataPacket[]>(
      `EXPLAIN SELECT 1 FROM ${from} WHERE (${where})`,
    );
    return rows.reduce((n, r) => Math.max(n, Number(r.rows ?? 0)), 0);
  } catch (err) {
    const e = err as { sqlMessage?: string; message?: string; errno?: number };
    // Connection problems are not the user's condition's fault: let them surface as such.
    if (e.errno === undefined || e.errno >= 2000) throw err;
    throw new InvalidWhereError(
      `invalid WHERE condition for ${table.schema}.${table.table}: ${e.sqlMessage ?? e.message ?? String(err)}`,
    );
  }
}
