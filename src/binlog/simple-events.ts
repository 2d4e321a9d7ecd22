import { ShortEventError } from './byte-cursor';
import { BinlogDecodeError } from './errors';
import {
  decodeMariadbGtid,
  decodeMariadbGtidList,
  decodeMysqlGtid,
  decodeMysqlTaggedGtid,
  decodePreviousGtids,
  decodeQuery,
  decodeRotate,
} from './event-bodies';
import type { EventHeader } from './event-header';
import { EventType } from './event-types';
import type { BinlogEvent, EventPosition } from './events';

/**
 * The events whose decoding needs no decoder state beyond post-header lengths: queries, XID,
 * ROTATE, GTIDs, GTID lists, annotations, heartbeats, STOP; unknown types come out as
 * `kind: 'unknown'`. Rows, table maps, FORMAT_DESCRIPTION and transaction payloads are decoder.ts's.
 */
export function decodeSimpleEvent(
  buf: Buffer,
  header: EventHeader,
  start: number,
  end: number,
  position: EventPosition | undefined,
  postHeaderLength: (type: number, fallback: number) => number,
): BinlogEvent {
  const type = header.type;
  switch (type) {
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
          postHeaderLength(type, 13),
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
        ...decodeRotate(buf, start, end, postHeaderLength(type, 8)),
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
    case EventType.MARIADB_START_ENCRYPTION:
      throw new BinlogDecodeError(
        'this binlog is encrypted (encrypt_binlog=ON); read it through the server (replica connection) instead of from the file',
        position ?? {},
      );
    default:
      return { kind: 'unknown', header, position, type };
  }
}
