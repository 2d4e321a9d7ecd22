import { crc32 } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { ShortEventError } from './byte-cursor';
import { BinlogDecodeError } from './errors';
import {
  decodeFormatDescription,
  decodeMariadbGtid,
  decodeMariadbGtidList,
  decodeMysqlGtid,
  decodeMysqlTaggedGtid,
  decodePreviousGtids,
  decodeQuery,
  decodeRotate,
  type FormatDescription,
} from './event-bodies';
import { CHECKSUM_LENGTH, EVENT_HEADER_LENGTH, type EventHeader, readEventHeader } from './event-header';
import { ChecksumAlgorithm, EventType, eventTypeName } from './event-types';
import type { BinlogEvent, EventPosition, RowsEvent, TableMapEvent } from './events';
import {
  decodeRowsBody,
  type RowImageDecoder,
  type RowImageDecoderFactory,
  readRowsPostHeader,
  rowsEventKind,
} from './rows-event';
import type { SchemaResolver } from './schema-resolver';
import { decodeTableMap } from './table-map';
import { ColumnType, type RowChange, type TableSchema } from './types';
import { resolveColumnType } from './values/column-type';

/** The setting a MySQL 8 source needs so that updates are logged as full row images. */
export const PARTIAL_JSON_SETTING = "binlog_row_value_options=''";

export interface BinlogDecoderOptions {
  /** Builds the per-table row-image decoder; defaults to the values engineer's compileRowImageDecoder. */
  rowDecoderFactory?: RowImageDecoderFactory;
  /** Verify CRC32 footers when the binlog has them (default true). */
  verifyChecksums?: boolean;
  /**
   * Whether events carry a CRC32 footer before any FORMAT_DESCRIPTION was seen (a live dump sends
   * a fake ROTATE first). Undefined: decide per event by checking whether the footer matches.
   */
  checksumBeforeFormatDescription?: boolean;
  /**
   * Completes table maps from the source's information_schema: column names, signedness, ENUM/SET
   * labels and charsets when the binlog has no names (binlog_row_metadata=MINIMAL), and the
   * MariaDB UUID/INET4/INET6 types that the binlog logs as BINARY. Only used through
   * `resolveSchema(event)`, which the caller awaits after each event (the file reader does it).
   */
  schemaResolver?: SchemaResolver;
}

interface TableEntry {
  /** The table map body it was decoded from, to recognise a repeated identical map cheaply. */
  raw: Buffer;
  /** The table as the table map describes it, before any completion from information_schema. */
  mapped: TableSchema;
  /** What rows are decoded with: `mapped`, or `mapped` completed from information_schema. */
  table: TableSchema;
  needsColumnNames: boolean;
  /** information_schema should complete this map (no names, or MariaDB BINARY(4)/BINARY(16)). */
  needsSchema: boolean;
  rowDecoder?: RowImageDecoder;
}

/**
 * Whether a table map should be completed from information_schema: it has no column names, or
 * (MariaDB) it has a BINARY(4)/BINARY(16) column, which may be an INET4, UUID or INET6 — the binlog
 * does not tell them apart.
 */
export function tableNeedsSchema(table: TableSchema, hasColumnNames: boolean, isMariaDb: boolean): boolean {
  if (table.columns.length === 0) return false;
  if (!hasColumnNames) return true;
  return isMariaDb && table.columns.some(mayBeMariaDbAddressOrUuid);
}

/** A BINARY(16) or BINARY(4) column: what MariaDB's UUID, INET6 and INET4 look like in a table map. */
export function mayBeMariaDbAddressOrUuid(col: TableSchema['columns'][number]): boolean {
  if (col.charset !== 63 && col.charset !== undefined) return false;
  const { type, meta } = resolveColumnType(col.type, col.meta);
  return type === ColumnType.STRING && (meta === 16 || meta === 4);
}

/** Above this many cached table ids the cache is cleared; every transaction re-sends its maps. */
const MAX_CACHED_TABLES = 20000;

function defaultRowDecoderFactory(table: TableSchema): RowImageDecoder {
  // Loaded lazily so that event-level code and tests do not depend on the value decoders.
  const mod = require('./values/row-image') as { compileRowImageDecoder: RowImageDecoderFactory };
  return mod.compileRowImageDecoder(table);
}

/**
 * Decodes binlog events one at a time, for files (file-reader.ts) and live streams (replica/).
 * Stateful: it remembers the FORMAT_DESCRIPTION (checksums, post-header lengths, MySQL or
 * MariaDB) and the table maps by table id, so feed it every event of a stream in order.
 * Damage and refused features throw BinlogDecodeError; after that the stream cannot be trusted
 * and the caller must stop.
 */
let followSchemaChangesFn: typeof import('./schema-resolver').followSchemaChanges | undefined;

export class BinlogDecoder {
  private format: FormatDescription | undefined;
  private readonly tables = new Map<number, TableEntry>();
  private readonly rowDecoderFactory: RowImageDecoderFactory;
  private readonly verifyChecksums: boolean;
  private readonly checksumBeforeFde: boolean | undefined;
  /** Rows decoded (inside a transaction payload) before their table was completed: how to redo them. */
  private readonly provisional = new WeakMap<RowsEvent, () => RowChange[]>();
  /** See BinlogDecoderOptions.schemaResolver. */
  readonly schemaResolver: SchemaResolver | undefined;

  constructor(options: BinlogDecoderOptions = {}) {
    this.rowDecoderFactory = options.rowDecoderFactory ?? defaultRowDecoderFactory;
    this.verifyChecksums = options.verifyChecksums ?? true;
    this.checksumBeforeFde = options.checksumBeforeFormatDescription;
    this.schemaResolver = options.schemaResolver;
  }

  /**
   * With a schema resolver: completes the table map `event` (column names, types) from
   * information_schema, and forgets completed tables when `event` is DDL. Await it after every
   * decoded event and before decoding the next one — the next rows event is decoded with what it
   * completed. Throws BinlogDecodeError (table and position) when the stream and information_schema
   * disagree. Without a resolver it does nothing.
   */
  async resolveSchema(event: BinlogEvent): Promise<void> {
    if (!this.schemaResolver) return;
    // Only these kinds can need or change a table's schema; the rest (most events) cost nothing here.
    if (event.kind !== 'tableMap' && event.kind !== 'query' && event.kind !== 'transactionPayload') return;
    // Loaded lazily, once: schema-resolver.ts imports this module (a require per event showed up as
    // the top cost of the live loop: module resolution with file-system checks every time).
    followSchemaChangesFn ??= (require('./schema-resolver') as typeof import('./schema-resolver'))
      .followSchemaChanges;
    await followSchemaChangesFn(this, event, this.schemaResolver);
  }

  /** The current FORMAT_DESCRIPTION, once seen. */
  get formatDescription(): FormatDescription | undefined {
    return this.format;
  }

  /** True once a FORMAT_DESCRIPTION announced CRC32 checksums. */
  get hasChecksums(): boolean {
    return this.format?.checksumAlgorithm === ChecksumAlgorithm.CRC32;
  }

  /** The table map currently registered under `tableId`. */
  tableById(tableId: number | bigint): TableSchema | undefined {
    return this.tables.get(Number(tableId))?.table;
  }

  /**
   * Replaces the schema of a mapped table, e.g. with column names resolved from
   * information_schema (see schema-resolver.ts). Must keep the column count and types.
   */
  completeTable(tableId: number | bigint, table: TableSchema): void {
    const entry = this.tables.get(Number(tableId));
    if (!entry) throw new Error(`no table map for table id ${tableId}`);
    entry.table = table;
    entry.needsColumnNames = false;
    entry.needsSchema = false;
    entry.rowDecoder = undefined;
  }

  /** True when the table map under `tableId` still waits for completion from information_schema. */
  tableNeedsSchema(tableId: number | bigint): boolean {
    return this.tables.get(Number(tableId))?.needsSchema ?? false;
  }

  /**
   * Forgets every completion from information_schema (after a DDL): the next table map of each
   * table is completed again, even when its bytes did not change (a renamed column or new ENUM
   * label need not change the table map of a MINIMAL binlog).
   */
  forgetCompletedTables(): void {
    for (const entry of this.tables.values()) {
      if (entry.table === entry.mapped) continue;
      entry.table = entry.mapped;
      entry.needsSchema = true;
      entry.needsColumnNames = entry.mapped.columns.length > 0 && entry.mapped.columns.every((c) => !c.name);
      entry.rowDecoder = undefined;
    }
  }

  /**
   * The rows of a rows event decoded again with its table's current (completed) schema, when it
   * was decoded before the completion (a rows event inside a MySQL 8 transaction payload, which
   * is decompressed and decoded as a whole). Undefined when the event needs no second pass.
   */
  redecodeRows(event: RowsEvent): RowChange[] | undefined {
    const redo = this.provisional.get(event);
    if (!redo) return undefined;
    this.provisional.delete(event);
    return redo();
  }

  /**
   * Decodes one complete event: 19-byte header, body and (when checksums are on) 4-byte CRC32.
   * `position` is where the event starts; it is copied into the event and into errors.
   */
  decode(event: Buffer, position?: EventPosition): BinlogEvent {
    try {
      return this.decodeUnchecked(event, position);
    } catch (err) {
      if (err instanceof BinlogDecodeError) throw err;
      const type = event.length > 4 ? eventTypeName(event[4]!) : 'event';
      const reason =
        err instanceof ShortEventError
          ? `truncated ${type} body: ${err.message}`
          : `${type}: ${(err as Error).message}`;
      throw new BinlogDecodeError(reason, position ?? {});
    }
  }

  private decodeUnchecked(event: Buffer, position: EventPosition | undefined): BinlogEvent {
    if (event.length < EVENT_HEADER_LENGTH)
      throw new BinlogDecodeError(
        `truncated event: ${event.length} bytes, less than a header`,
        position ?? {},
      );
    const header = readEventHeader(event, 0);
    if (header.eventSize !== event.length)
      throw new BinlogDecodeError(
        `event size ${header.eventSize} in the header does not match the ${event.length} bytes given`,
        position ?? {},
      );
    let bodyEnd = event.length;
    if (header.type === EventType.FORMAT_DESCRIPTION) {
      const fde = decodeFormatDescription(event, EVENT_HEADER_LENGTH, event.length);
      if (fde.checksumAlgorithm === ChecksumAlgorithm.CRC32) this.checkCrc(event, position);
      this.format = fde;
      // A new FORMAT_DESCRIPTION starts a new file (or a server restart): table ids are reused.
      this.tables.clear();
      return { kind: 'formatDescription', header, position, ...fde };
    }
    if (this.format ? this.hasChecksums : this.guessChecksum(event)) {
      this.checkCrc(event, position);
      bodyEnd -= CHECKSUM_LENGTH;
    }
    return this.decodeBody(event, header, EVENT_HEADER_LENGTH, bodyEnd, position);
  }

  private guessChecksum(event: Buffer): boolean {
    if (this.checksumBeforeFde !== undefined) return this.checksumBeforeFde;
    if (event.length < EVENT_HEADER_LENGTH + CHECKSUM_LENGTH) return false;
    const n = event.length - CHECKSUM_LENGTH;
    return crc32(event.subarray(0, n)) === event.readUInt32LE(n);
  }

  private checkCrc(event: Buffer, position: EventPosition | undefined): void {
    if (!this.verifyChecksums) return;
    const n = event.length - CHECKSUM_LENGTH;
    const expected = event.readUInt32LE(n);
    const actual = crc32(event.subarray(0, n));
    if (actual !== expected)
      throw new BinlogDecodeError(
        `CRC32 mismatch in ${eventTypeName(event[4]!)} event: footer says 0x${expected.toString(16).padStart(8, '0')}, bytes give 0x${actual.toString(16).padStart(8, '0')}`,
        position ?? {},
      );
  }

  private postHeaderLength(type: number, fallback: number): number {
    return this.format?.postHeaderLengths[type - 1] ?? fallback;
  }

  private decodeBody(
    buf: Buffer,
    header: EventHeader,
    start: number,
    end: number,
    position: EventPosition | undefined,
  ): BinlogEvent {
    const type = header.type;
    const rowsKind = rowsEventKind(type);
    if (rowsKind) {
      const ph = readRowsPostHeader(buf, start, end, this.postHeaderLength(type, 8), rowsKind.version);
      const entry = this.tables.get(ph.tableId);
      if (!entry)
        throw new BinlogDecodeError(
          `${eventTypeName(type)} refers to table id ${ph.tableId} with no TABLE_MAP before it (start reading at a transaction boundary)`,
          position ?? {},
        );
      const rowDecoder = entry.rowDecoder ?? this.compile(entry);
      const rows = decodeRowsBody(buf, ph.bodyStart, end, rowsKind, entry.table, rowDecoder);
      const rowsEvent: RowsEvent = {
        kind: 'rows',
        header,
        position,
        change: rowsKind.change,
        version: rowsKind.version,
        table: entry.table,
        flags: ph.flags,
        rows,
      };
      if (entry.needsSchema && this.schemaResolver) {
        // Only inside a transaction payload can rows arrive before resolveSchema saw their map.
        const bodyStart = ph.bodyStart;
        this.provisional.set(rowsEvent, () => {
          rowsEvent.table = entry.table;
          return decodeRowsBody(
            buf,
            bodyStart,
            end,
            rowsKind,
            entry.table,
            entry.rowDecoder ?? this.compile(entry),
          );
        });
      }
      return rowsEvent;
    }
    switch (type) {
      case EventType.TABLE_MAP:
        return this.decodeTableMapEvent(buf, header, start, end, position);
      case EventType.QUERY:
      case EventType.MARIADB_QUERY_COMPRESSED:
        return {
          kind: 'query',
          header,
          position,
          ...decodeQuery(
            buf,
            start,
            end,
            this.postHeaderLength(type, 13),
            type === EventType.MARIADB_QUERY_COMPRESSED,
          ),
        };
      case EventType.XID:
        if (end - start < 8) throw new ShortEventError(8, end - start);
        return { kind: 'xid', header, position, xid: buf.readBigUInt64LE(start) };
      case EventType.ROTATE:
        return {
          kind: 'rotate',
          header,
          position,
          ...decodeRotate(buf, start, end, this.postHeaderLength(type, 8)),
        };
      case EventType.GTID:
      case EventType.ANONYMOUS_GTID: {
        const g = decodeMysqlGtid(buf, start, end);
        const anonymous = type === EventType.ANONYMOUS_GTID;
        return {
          kind: 'gtid',
          flavor: 'mysql',
          header,
          position,
          anonymous,
          gtid: anonymous ? undefined : `${g.sid}:${g.gno}`,
          ...g,
        };
      }
      case EventType.GTID_TAGGED: {
        const g = decodeMysqlTaggedGtid(buf, start, end);
        return {
          kind: 'gtid',
          flavor: 'mysql',
          header,
          position,
          anonymous: false,
          gtid: `${g.sid}:${g.gno}`,
          ...g,
        };
      }
      case EventType.MARIADB_GTID:
        return {
          kind: 'gtid',
          flavor: 'mariadb',
          header,
          position,
          ...decodeMariadbGtid(buf, start, end, header.serverId),
        };
      case EventType.MARIADB_GTID_LIST:
        return { kind: 'mariadbGtidList', header, position, gtids: decodeMariadbGtidList(buf, start, end) };
      case EventType.PREVIOUS_GTIDS:
        return { kind: 'previousGtids', header, position, gtidSet: decodePreviousGtids(buf, start, end) };
      case EventType.MARIADB_ANNOTATE_ROWS:
        return { kind: 'annotateRows', header, position, query: buf.toString('utf8', start, end) };
      case EventType.ROWS_QUERY:
        // One length byte that overflows for long statements; the text runs to the end of the event.
        return {
          kind: 'rowsQuery',
          header,
          position,
          query: buf.toString('utf8', Math.min(start + 1, end), end),
        };
      case EventType.HEARTBEAT:
        return { kind: 'heartbeat', header, position, file: buf.toString('utf8', start, end) };
      case EventType.HEARTBEAT_V2:
        return { kind: 'heartbeat', header, position, file: '' };
      case EventType.MARIADB_BINLOG_CHECKPOINT: {
        const nameLength = buf.readUInt32LE(start);
        return {
          kind: 'binlogCheckpoint',
          header,
          position,
          file: buf.toString('utf8', start + 4, start + 4 + nameLength),
        };
      }
      case EventType.STOP:
        return { kind: 'stop', header, position };
      case EventType.TRANSACTION_PAYLOAD:
        return this.decodeTransactionPayload(buf, header, start, end, position);
      case EventType.PARTIAL_UPDATE_ROWS:
        throw new BinlogDecodeError(
          `PARTIAL_UPDATE_ROWS (MySQL partial JSON updates) is not supported: set ${PARTIAL_JSON_SETTING} (empty) on the source so updates carry full JSON values`,
          position ?? {},
        );
      case EventType.MARIADB_START_ENCRYPTION:
        throw new BinlogDecodeError(
          'this binlog is encrypted (encrypt_binlog=ON); read it through the server (replica connection) instead of from the file',
          position ?? {},
        );
      default:
        return { kind: 'unknown', header, position, type };
    }
  }

  private decodeTableMapEvent(
    buf: Buffer,
    header: EventHeader,
    start: number,
    end: number,
    position: EventPosition | undefined,
  ): TableMapEvent {
    const raw = buf.subarray(start, end);
    const postHeaderLength = this.postHeaderLength(EventType.TABLE_MAP, 8);
    const tableId = postHeaderLength === 6 ? raw.readUInt32LE(0) : raw.readUIntLE(0, 6);
    const known = this.tables.get(tableId);
    // Every transaction re-sends its table maps; reuse the schema and its compiled row decoder
    // when the bytes are identical.
    if (known?.raw.equals(raw))
      return {
        kind: 'tableMap',
        header,
        position,
        table: known.table,
        needsColumnNames: known.needsColumnNames,
      };
    const isMariaDb = this.format?.isMariaDb ?? false;
    const decoded = decodeTableMap(buf, start, end, postHeaderLength, isMariaDb);
    if (this.tables.size >= MAX_CACHED_TABLES) this.tables.clear();
    const needsColumnNames = !decoded.hasColumnNames && decoded.table.columns.length > 0;
    this.tables.set(tableId, {
      raw: Buffer.from(raw),
      mapped: decoded.table,
      table: decoded.table,
      needsColumnNames,
      needsSchema: tableNeedsSchema(decoded.table, decoded.hasColumnNames, isMariaDb),
    });
    return { kind: 'tableMap', header, position, table: decoded.table, needsColumnNames };
  }

  private compile(entry: TableEntry): RowImageDecoder {
    entry.rowDecoder = this.rowDecoderFactory(entry.table);
    return entry.rowDecoder;
  }

  /**
   * TRANSACTION_PAYLOAD: a few (type, length, value) fields, then the compressed events. The
   * inner events are complete events without checksums; they share this decoder's state.
   */
  private decodeTransactionPayload(
    buf: Buffer,
    header: EventHeader,
    start: number,
    end: number,
    position: EventPosition | undefined,
  ): BinlogEvent {
    let off = start;
    const readPacked = (): number => {
      const first = buf[off++];
      if (first === undefined || off > end) throw new ShortEventError(1, 0);
      if (first < 251) return first;
      const size = first === 0xfc ? 2 : first === 0xfd ? 3 : 8;
      const v = size === 8 ? Number(buf.readBigUInt64LE(off)) : buf.readUIntLE(off, size);
      off += size;
      return v;
    };
    let compression = 0;
    let uncompressedSize = 0;
    let payloadSize: number | undefined;
    for (;;) {
      const fieldType = readPacked();
      if (fieldType === 0) break;
      const length = readPacked();
      const fieldEnd = off + length;
      if (fieldType === 1) payloadSize = readPacked();
      else if (fieldType === 2) compression = readPacked();
      else if (fieldType === 3) uncompressedSize = readPacked();
      off = fieldEnd;
    }
    const payload = buf.subarray(off, payloadSize === undefined ? end : off + payloadSize);
    if (off + payload.length > end) throw new ShortEventError(payload.length, end - off);
    let inner: Buffer;
    if (compression === 0) {
      const out = zstdDecompress(new Uint8Array(payload.buffer, payload.byteOffset, payload.length));
      inner = Buffer.from(out.buffer, out.byteOffset, out.length);
    } else if (compression === 255) inner = payload;
    else
      throw new BinlogDecodeError(
        `unsupported transaction payload compression type ${compression}`,
        position ?? {},
      );
    if (uncompressedSize && inner.length !== uncompressedSize)
      throw new BinlogDecodeError(
        `transaction payload decompressed to ${inner.length} bytes, its header says ${uncompressedSize}`,
        position ?? {},
      );
    const events: BinlogEvent[] = [];
    let p = 0;
    while (p < inner.length) {
      if (p + EVENT_HEADER_LENGTH > inner.length)
        throw new ShortEventError(EVENT_HEADER_LENGTH, inner.length - p);
      const h = readEventHeader(inner, p);
      if (h.eventSize < EVENT_HEADER_LENGTH || p + h.eventSize > inner.length)
        throw new ShortEventError(h.eventSize, inner.length - p);
      events.push(this.decodeBody(inner, h, p + EVENT_HEADER_LENGTH, p + h.eventSize, position));
      p += h.eventSize;
    }
    return {
      kind: 'transactionPayload',
      header,
      position,
      compression,
      uncompressedSize: inner.length,
      events,
    };
  }
}
