import type { Command } from 'commander';
import mysql from 'mysql2/promise';
import { type BinlogFileEnd, readBinlogFile } from '../binlog/file-reader';
import { InformationSchemaResolver, type SchemaResolver } from '../binlog/schema-resolver';
import { TransactionAssembler } from '../binlog/transactions';
import { JsonLinesWriter, lineHead } from './json-lines';

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
 * Decodes a binlog file into one JSON line per row change (json-lines.ts), handed over in chunks
 * of many lines to `emit`, which may return a promise to slow reading down. The CLI and tests use
 * it; it returns the number of row changes.
 */
export async function decodeFileToJsonLines(
  path: string,
  options: DecodeFileOptions,
  emit: (chunk: Buffer) => void | Promise<void>,
): Promise<number> {
  const assembler = new TransactionAssembler();
  const out = new JsonLinesWriter(emit);
  let rows = 0;
  try {
    for await (const e of readBinlogFile(path, options)) {
      for (const item of assembler.accept(e)) {
        if (item.kind !== 'rows') continue;
        const ev = item.event;
        if (ev.rows.length === 0) continue;
        const head = Buffer.from(
          lineHead({
            file: item.file,
            position: item.pos,
            gtid: item.gtid,
            timestamp: item.timestamp,
            table: ev.table,
          }),
        );
        for (const r of ev.rows) {
          rows++;
          const pending = out.row(head, ev.table, r);
          if (pending) await pending;
        }
      }
    }
  } finally {
    // Also after damage: what was decoded before it is delivered, then the error (with its position).
    await out.end();
  }
  return rows;
}

function parsePosition(v: string): number {
  if (!/^\d+$/.test(v)) throw new Error(`not a byte position: ${v}`);
  return Number(v);
}

/** Writes a chunk to stdout; a promise when the pipe is full. */
function toStdout(chunk: Buffer): Promise<void> | undefined {
  if (process.stdout.write(chunk)) return undefined;
  return new Promise<void>((r) => process.stdout.once('drain', () => r()));
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
            toStdout,
          );
        } finally {
          await conn?.end();
        }
      },
    );
}
