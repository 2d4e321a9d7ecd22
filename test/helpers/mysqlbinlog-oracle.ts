/**
 * A second independent oracle for row values: MySQL's own `mysqlbinlog -vv --base64-output=decode-rows`
 * (of the MySQL folder, src/devstack/mysql-root.ts). Its pseudo-SQL has the same shape as mariadb-binlog's, so
 * the parser is shared; it prints JSON as MySQL's JSON text and VECTOR as `[%.5e,…]`, which
 * `compareMysqlCell` knows on top of the shared comparison.
 */
import { spawn } from 'node:child_process';
import type { RowsEvent } from '../../src/binlog/events';
import { readBinlogFile } from '../../src/binlog/file-reader';
import { type CellValue, type ColumnDef, ColumnType, type RowChange } from '../../src/binlog/types';
import {
  compareCell,
  compareWithOracle,
  type OracleCell,
  type OracleComparison,
  type OracleRow,
  parseOracleOutput,
} from './mariadb-binlog-oracle';
import type { MysqlServer } from './mysql-server';

/** mysqlbinlog's -vv output for `file`, bytes as latin1. */
export async function mysqlbinlogText(server: MysqlServer, file: string): Promise<string> {
  const { command, args } = server.mysqlbinlogCommand(['-vv', '--base64-output=decode-rows', file]);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  const errors: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.on('data', (c: Buffer) => errors.push(c));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`mysqlbinlog exited ${code}: ${Buffer.concat(errors).toString()}`);
  return Buffer.concat(chunks).toString('latin1');
}

/** Runs mysqlbinlog on `file` and parses its rows. */
export async function mysqlbinlogRows(server: MysqlServer, file: string): Promise<OracleRow[]> {
  return parseOracleOutput(await mysqlbinlogText(server, file));
}

/** The JSON text inside mysqlbinlog's quotes, as UTF-8 (it escapes \ and ' with a backslash, bytes below 0x20 as \xNN). */
function quotedUtf8(text: string): string | undefined {
  if (!text.startsWith("'") || !text.endsWith("'")) return undefined;
  const body = text.slice(1, -1);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    if (body[i] === '\\' && body[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 2, i + 4))) {
      out.push(Number.parseInt(body.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (body[i] === '\\' && (body[i + 1] === '\\' || body[i + 1] === "'")) {
      out.push(body.charCodeAt(i + 1));
      i += 1;
    } else out.push(body.charCodeAt(i) & 0xff);
  }
  return Buffer.from(out).toString('utf8');
}

/** Our value of one column against mysqlbinlog's; undefined when they agree (see compareCell). */
export function compareMysqlCell(
  ours: CellValue | undefined,
  o: OracleCell,
  col: ColumnDef,
): string | undefined {
  if (ours === undefined || ours === null || o.isNull) return compareCell(ours, o, col);
  const show = () => `ours ${String(ours).slice(0, 80)}, oracle ${o.text.slice(0, 80)} (${o.type})`;
  if (col.type === ColumnType.JSON) {
    const theirs = quotedUtf8(o.text);
    // A document that is a single string prints unquoted and unescaped.
    const text = String(ours);
    const same = text.startsWith('"') ? JSON.parse(text) === theirs : text === theirs;
    return same ? undefined : show();
  }
  if (col.type === ColumnType.VECTOR) {
    if (!Buffer.isBuffer(ours)) return show();
    const printed = /^\[(.*)\]$/.exec(o.text)?.[1];
    if (printed === undefined) return show();
    const theirs = printed === '' ? [] : printed.split(',').map(Number);
    if (theirs.length * 4 !== ours.length) return show();
    // Printed with %.5e: six significant digits.
    return theirs.every((t, i) => {
      const v = ours.readFloatLE(i * 4);
      return v === t || Math.abs(v - t) <= Math.abs(t) * 1e-5;
    })
      ? undefined
      : show();
  }
  return compareCell(ours, o, col);
}

/** Our rows of `schema` in a binlog file, with the positions of their events (other schemas are skipped undecoded). */
export async function ourRows(
  file: string,
  schema: string,
): Promise<Array<{ pos: number; change: RowChange }>> {
  const rows: Array<{ pos: number; change: RowChange }> = [];
  const take = (pos: number, e: RowsEvent) => {
    if (e.table.schema !== schema) return;
    for (const change of e.rows) rows.push({ pos, change });
  };
  // Only this schema's rows are decoded: other tests may write to the same server meanwhile.
  for await (const e of readBinlogFile(file, { tableFilter: (s) => s === schema })) {
    if (e.event.kind === 'rows') take(e.pos, e.event);
    else if (e.event.kind === 'transactionPayload')
      for (const inner of e.event.events) if (inner.kind === 'rows') take(e.pos, inner);
  }
  return rows;
}

/** Compares our rows of `schema` in `file` with mysqlbinlog's. */
export async function compareFileWithMysqlbinlog(
  server: MysqlServer,
  file: string,
  schema: string,
): Promise<OracleComparison & { rows: number }> {
  const ours = await ourRows(file, schema);
  const oracle = (await mysqlbinlogRows(server, file)).filter((r) => r.schema === schema);
  return { ...compareWithOracle(ours, oracle, compareMysqlCell), rows: ours.length };
}
