/**
 * Which secondary indexes of a target table an initial load may take off and put back afterwards,
 * read from the table's SHOW CREATE TABLE text (pure: no I/O).
 *
 * Only plain non-unique B-tree indexes (`KEY ...` lines) qualify. They hold no constraint, so a
 * table without them accepts exactly the rows it would accept with them, and building one at the
 * end by sorting costs less than maintaining it row by row (docs/backfill.md). The definition is
 * the server's own text of the index (prefix lengths, DESC, comments, IGNORED all kept), so adding
 * it back gives the same index. Unique, primary, full-text, spatial and vector indexes stay, and so
 * does every index of a table that takes part in a foreign key (the constraint may need the index).
 */

import type { TableRef } from '../../../pipeline/model';
import { quoteMysqlIdentifier, quoteMysqlTable } from '../dialect';

export interface IndexDefinition {
  /** The index name, unquoted. */
  name: string;
  /** The server's definition, e.g. "KEY `by_customer` (`customer`,`created` DESC)". */
  definition: string;
}

/** A `KEY` line of SHOW CREATE TABLE: two spaces, KEY, the quoted name, the column list. */
const PLAIN_KEY_LINE = /^\s+(KEY `((?:[^`]|``)+)` \(.*?),?$/;
const FOREIGN_KEY_LINE = /^\s+CONSTRAINT `(?:[^`]|``)+` FOREIGN KEY /;

export interface SecondaryIndexes {
  /** The plain non-unique indexes, in table order. */
  plain: IndexDefinition[];
  /** The table has a FOREIGN KEY constraint of its own. */
  hasForeignKeys: boolean;
}

export function secondaryIndexesOf(createTable: string): SecondaryIndexes {
  const plain: IndexDefinition[] = [];
  let hasForeignKeys = false;
  for (const line of createTable.split('\n')) {
    if (FOREIGN_KEY_LINE.test(line)) {
      hasForeignKeys = true;
      continue;
    }
    const m = PLAIN_KEY_LINE.exec(line);
    if (m) plain.push({ name: (m[2] as string).replace(/``/g, '`'), definition: m[1] as string });
  }
  return { plain, hasForeignKeys };
}

/** One ALTER TABLE that drops the named indexes (empty string when there are none). */
export function dropIndexesSql(table: TableRef, names: readonly string[]): string {
  if (names.length === 0) return '';
  return `ALTER TABLE ${quoteMysqlTable(table)} ${names.map((n) => `DROP INDEX ${quoteMysqlIdentifier(n)}`).join(', ')}`;
}

/** One ALTER TABLE that adds the indexes back (one sort per index, one pass over the table). */
export function addIndexesSql(table: TableRef, indexes: readonly IndexDefinition[]): string {
  if (indexes.length === 0) return '';
  return `ALTER TABLE ${quoteMysqlTable(table)} ${indexes.map((i) => `ADD ${i.definition}`).join(', ')}`;
}
