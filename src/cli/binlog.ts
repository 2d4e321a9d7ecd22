import type { Command } from 'commander';
import mysql from 'mysql2/promise';
import type { BinlogDecodeError } from '../binlog/errors';
import { type BinlogFileEnd, readBinlogFile } from '../binlog/file-reader';
import { InformationSchemaResolver, type SchemaResolver } from '../binlog/schema-resolver';
import { TransactionAssembler } from '../binlog/transactions';
import type { CellValue, RowImage, TableSchema } from '../binlog/types';

/**
 * JSON form of one cell for `binlog decode`: bigint as a decimal string, Buffer as {"hex": …},
 * everything else as JSON has it (docs/binlog-decoder.md).
 */
export function cellToJson(v: CellValue): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (Buffer.isBuffer(v)) return { hex: v.toString('hex') };
  return v;
}

/** A row image as a JSON object keyed by column name (`@1`, `@2`, … when names are unknown); absent columns omitted. */
export function rowImageToJson(table: TableSchema, image: RowImage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < image.length; i++) {
    const v = image[i];
    if (v === undefined) continue;
    out[table.columns[i]?.name || `@${i + 1}`] = cellToJson(v);
  }
  return out;
}

export interface DecodeFileOptions {
  startPosition?: number;
  stopPosition?: number;
  schemaResolver?: SchemaResolver;
  onEnd?: (end: BinlogFileEnd) => void;
}

/** What `binlog decode` says on stderr about a file that is still being written, or undefined. */
export function inUseNotice(file: string, end: BinlogFileEnd): string | undefined {
  if (!end.inUse) return undefined;
  const tail = end.incompleteBytes
    ? `; the ${end.incompleteBytes} bytes after it are part of an event still being written`
    : '';
  return `${file} is in use (still being written, or left open by a server that stopped without closing it): decoded up to position ${end.endPosition}, the end of its last complete event${tail}`;
}

/**
 * Decodes a binlog file into one JSON line per row change and hands each line to `write`.
 * The CLI and tests use it; it returns the number of row changes.
 */
export async function decodeFileToJsonLines(
  path: string,
  options: DecodeFileOptions,
  write: (line: string) => void | Promise<void>,
): Promise<number> {
  const assembler = new TransactionAssembler();
  let rows = 0;
  for await (const e of readBinlogFile(path, options)) {
    for (const item of assembler.accept(e)) {
      if (item.kind !== 'rows') continue;
      const ev = item.event;
      const timestamp = new Date(item.timestamp * 1000).toISOString();
      for (const r of ev.rows) {
        const line: Record<string, unknown> = {
          file: item.file,
          position: item.pos,
          gtid: item.gtid ?? null,
          timestamp,
          schema: ev.table.schema,
          table: ev.table.table,
          type: r.kind,
        };
        if (r.kind !== 'insert') line.before = rowImageToJson(ev.table, r.before);
        if (r.kind !== 'delete') line.after = rowImageToJson(ev.table, r.after);
        rows++;
        await write(JSON.stringify(line));
      }
    }
  }
  return rows;
}

function parsePosition(v: string): number {
  if (!/^\d+$/.test(v)) throw new Error(`not a byte position: ${v}`);
  return Number(v);
}

/** A stdout writer that batches lines and waits when the pipe is full. */
function stdoutLines() {
  let pending: string[] = [];
  let size = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    size = 0;
    if (!process.stdout.write(chunk)) await new Promise<void>((r) => process.stdout.once('drain', () => r()));
  };
  return {
    async write(line: string): Promise<void> {
      pending.push(line, '\n');
      size += line.length + 1;
      if (size >= 1 << 16) await flush();
    },
    flush,
  };
}

/** Registers `otterflow binlog …` commands. */
export function registerBinlogCommands(program: Command): void {
  const binlog = program.command('binlog').description('binlog tools');
  binlog
    .command('decode')
    .description('decode a binlog file: one JSON object per row change on stdout')
    .argument('<file>', 'binlog file (starts with the magic bytes fe 62 69 6e)')
    .option('--start-position <n>', 'first event to decode (an event boundary)', parsePosition)
    .option('--stop-position <n>', 'stop before the first event at or after this position', parsePosition)
    .option(
      '--resolve-names <url>',
      'mysql://user:pass@host:port URL whose information_schema supplies column names missing from the binlog',
    )
    .action(
      async (
        file: string,
        opts: { startPosition?: number; stopPosition?: number; resolveNames?: string },
      ) => {
        const out = stdoutLines();
        process.stdout.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'EPIPE') process.exit(0);
        });
        const conn = opts.resolveNames ? await mysql.createConnection(opts.resolveNames) : undefined;
        try {
          await decodeFileToJsonLines(
            file,
            {
              startPosition: opts.startPosition,
              stopPosition: opts.stopPosition,
              schemaResolver: conn ? new InformationSchemaResolver(conn) : undefined,
              onEnd: (end) => {
                const notice = inUseNotice(file, end);
                if (notice) process.stderr.write(`otterflow: ${notice}\n`);
              },
            },
            (line) => out.write(line),
          );
        } catch (err) {
          // Deliver what was decoded before the damage, then fail with the position.
          await out.flush();
          throw err as BinlogDecodeError;
        } finally {
          await conn?.end();
        }
        await out.flush();
      },
    );
}
