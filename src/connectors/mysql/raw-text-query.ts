/**
 * A COM_QUERY whose result rows are handed over as raw text-protocol row packets, without mysql2
 * parsing them into JS values (the backfill's fast path transcodes them straight into a LOAD DATA
 * file: src/connectors/mysql/text-row-transcoder.ts).
 *
 * Plugged into mysql2 as a custom command, like the binlog replica's (src/binlog/replica/mysql2-commands.ts):
 * mysql2 keeps doing the connection, auth, the command queue and packet framing (including joining
 * packets of 16 MB and more into one), this command writes the query and walks the result packets:
 * column count, column definitions (skipped), EOF, rows, EOF. An ERR packet at any point rejects with
 * mysql2's error. Uses mysql2 internals (Command, Packets.Query): written for the mysql2 version
 * pinned in package.json (MYSQL2_HOOK_VERSION); test/integration/backfill-raw-rows.test.ts runs it.
 */

import type mysql from 'mysql2/promise';
import { ByteCursor } from '../../binlog/byte-cursor';
import {
  internalsOf,
  MYSQL2_HOOK_VERSION,
  type Mysql2Internals,
  type Mysql2Packet,
  mysql2Classes,
  mysql2Version,
  requireMysql2Internal,
} from '../../binlog/replica/mysql2-commands';

interface QueryPacketCtor {
  new (
    sql: string,
    charsetNumber: number,
    attributes: undefined,
    clientFlags: number,
  ): {
    toPacket(sequenceId: number): unknown;
  };
}

function loadQueryPacket(): QueryPacketCtor {
  const packets = requireMysql2Internal<{ Query?: QueryPacketCtor }>('packets/index.js');
  if (typeof packets.Query !== 'function')
    throw new Error(
      `mysql2 ${mysql2Version()}: its internal Packets.Query changed; the raw row reader was written for ` +
        `mysql2 ${MYSQL2_HOOK_VERSION} (see src/connectors/mysql/raw-text-query.ts)`,
    );
  return packets.Query;
}

const { Command } = mysql2Classes;
const QueryPacket = loadQueryPacket();

const CLIENT_DEPRECATE_EOF = 1 << 24;
const SERVER_MORE_RESULTS_EXISTS = 8;

/** The rest of a connection that this command needs (mysql2 internals). */
interface CoreConnection extends Mysql2Internals {
  config: { charsetNumber: number; clientFlags: number };
  serverCapabilityFlags?: number;
}

/** Receives the row packets of a raw query; `packet[start, end)` is one row's payload, valid only during the call. */
export type RawRowSink = (packet: Buffer, start: number, end: number) => void;

class RawTextQuery extends Command {
  private columnsLeft = 0;
  private failure: Error | undefined;
  private deprecateEof = false;
  private rows = 0;

  constructor(
    private readonly sql: string,
    private readonly columns: number,
    private readonly sink: RawRowSink,
    private readonly done: (err: Error | null, rows?: number) => void,
  ) {
    super();
    // mysql2 calls onResult with an Error for ERR packets and connection failures.
    this.onResult = (err) => done(err ?? new Error('raw query ended without a result'));
  }

  start(_packet: Mysql2Packet | undefined, connection: CoreConnection): unknown {
    const flags = connection.config.clientFlags & (connection.serverCapabilityFlags ?? 0);
    this.deprecateEof = (flags & CLIENT_DEPRECATE_EOF) !== 0;
    connection.writePacket(
      new QueryPacket(this.sql, connection.config.charsetNumber, undefined, flags).toPacket(1),
    );
    return RawTextQuery.prototype.header;
  }

  header(packet: Mysql2Packet): unknown {
    const b = packet.buffer;
    const first = b[packet.offset] as number;
    if (first === 0x00 || first === 0xfb) {
      // An OK (not a SELECT) or a LOCAL INFILE request: neither can come from a SELECT.
      this.done(new Error('raw query: the statement returned no result set'));
      return null;
    }
    const count = new ByteCursor(b, packet.offset, packet.end).packed();
    if (count !== this.columns)
      this.failure = new Error(`raw query: ${count} result columns, expected ${this.columns}`);
    this.columnsLeft = count;
    return RawTextQuery.prototype.column;
  }

  column(): unknown {
    this.columnsLeft--;
    if (this.columnsLeft > 0) return RawTextQuery.prototype.column;
    return this.deprecateEof ? RawTextQuery.prototype.row : RawTextQuery.prototype.columnsEnd;
  }

  columnsEnd(packet: Mysql2Packet): unknown {
    if (packet.buffer[packet.offset] !== 0xfe)
      this.failure ??= new Error('raw query: no EOF after the column definitions');
    return RawTextQuery.prototype.row;
  }

  row(packet: Mysql2Packet): unknown {
    const b = packet.buffer;
    const len = packet.end - packet.offset;
    // End of rows: EOF (0xfe, < 9 bytes), or with DEPRECATE_EOF an OK packet marked 0xfe. A row
    // starting with 0xfe (an 8-byte field length) is at least 16 MB long.
    if (b[packet.offset] === 0xfe && len < (this.deprecateEof ? 0xffffff : 9)) {
      const status = this.deprecateEof ? this.okStatus(packet) : b.readUInt16LE(packet.offset + 3);
      if (status & SERVER_MORE_RESULTS_EXISTS) {
        this.failure ??= new Error('raw query: more than one result set');
        return RawTextQuery.prototype.header;
      }
      this.done(this.failure ?? null, this.rows);
      return null;
    }
    if (this.failure === undefined) {
      try {
        this.sink(b, packet.offset, packet.end);
        this.rows++;
      } catch (err) {
        // Keep reading to the end of the result: the connection stays usable.
        this.failure = err as Error;
      }
    }
    return RawTextQuery.prototype.row;
  }

  /** Status flags of an OK packet: 0xfe, affected rows and insert id (length-encoded), then status. */
  private okStatus(packet: Mysql2Packet): number {
    const c = new ByteCursor(packet.buffer, packet.offset + 1, packet.end);
    c.packed();
    c.packed();
    return c.u16();
  }
}

/**
 * Runs `sql` (one SELECT of exactly `columns` columns, literal values inlined: no placeholders) on a
 * mysql2 promise connection and hands every row packet to `sink`. Resolves with the row count;
 * rejects with the server's error, or with the sink's error once the result has been read to its end.
 */
export function rawTextQuery(
  conn: mysql.Connection,
  sql: string,
  columns: number,
  sink: RawRowSink,
): Promise<number> {
  const core = internalsOf((conn as unknown as { connection: Parameters<typeof internalsOf>[0] }).connection);
  return new Promise((resolve, reject) => {
    core.addCommand(
      new RawTextQuery(sql, columns, sink, (err, rows) => (err ? reject(err) : resolve(rows ?? 0))),
    );
  });
}
