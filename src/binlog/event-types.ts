/**
 * Binlog event type codes (the byte at offset 4 of every v4 event header).
 * MySQL codes are below 100; MariaDB's own events start at 160. Use these names instead of
 * bare numbers anywhere an event type is compared.
 */
export const EventType = {
  UNKNOWN: 0,
  START_V3: 1,
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  INTVAR: 5,
  LOAD: 6,
  SLAVE: 7,
  CREATE_FILE: 8,
  APPEND_BLOCK: 9,
  EXEC_LOAD: 10,
  DELETE_FILE: 11,
  NEW_LOAD: 12,
  RAND: 13,
  USER_VAR: 14,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  BEGIN_LOAD_QUERY: 17,
  EXECUTE_LOAD_QUERY: 18,
  TABLE_MAP: 19,
  /** Pre-GA MySQL 5.1 rows events (v0); never written by a released server. */
  PRE_GA_WRITE_ROWS: 20,
  PRE_GA_UPDATE_ROWS: 21,
  PRE_GA_DELETE_ROWS: 22,
  WRITE_ROWS_V1: 23,
  UPDATE_ROWS_V1: 24,
  DELETE_ROWS_V1: 25,
  INCIDENT: 26,
  HEARTBEAT: 27,
  IGNORABLE: 28,
  ROWS_QUERY: 29,
  WRITE_ROWS_V2: 30,
  UPDATE_ROWS_V2: 31,
  DELETE_ROWS_V2: 32,
  GTID: 33,
  ANONYMOUS_GTID: 34,
  PREVIOUS_GTIDS: 35,
  TRANSACTION_CONTEXT: 36,
  VIEW_CHANGE: 37,
  XA_PREPARE: 38,
  /** MySQL 8 partial JSON updates (binlog_row_value_options=PARTIAL_JSON). */
  PARTIAL_UPDATE_ROWS: 39,
  /** MySQL 8 binlog_transaction_compression: a zstd-compressed run of events. */
  TRANSACTION_PAYLOAD: 40,
  HEARTBEAT_V2: 41,
  GTID_TAGGED: 42,

  MARIADB_ANNOTATE_ROWS: 160,
  MARIADB_BINLOG_CHECKPOINT: 161,
  MARIADB_GTID: 162,
  MARIADB_GTID_LIST: 163,
  MARIADB_START_ENCRYPTION: 164,
  MARIADB_QUERY_COMPRESSED: 165,
  MARIADB_WRITE_ROWS_COMPRESSED_V1: 166,
  MARIADB_UPDATE_ROWS_COMPRESSED_V1: 167,
  MARIADB_DELETE_ROWS_COMPRESSED_V1: 168,
  MARIADB_WRITE_ROWS_COMPRESSED: 169,
  MARIADB_UPDATE_ROWS_COMPRESSED: 170,
  MARIADB_DELETE_ROWS_COMPRESSED: 171,
} as const;
export type EventTypeCode = (typeof EventType)[keyof typeof EventType];

const namesByCode = new Map<number, string>(Object.entries(EventType).map(([name, code]) => [code, name]));

/** A readable name for an event type code, for error messages and debugging output. */
export function eventTypeName(code: number): string {
  return namesByCode.get(code) ?? `UNKNOWN_${code}`;
}

/** Event header flags (the last two bytes of the header). */
export const EventFlag = {
  /** The binlog file was not closed properly (set on the FORMAT_DESCRIPTION of an open file). */
  BINLOG_IN_USE: 0x1,
  /** The event may be ignored by a reader that does not know its type. */
  IGNORABLE: 0x80,
  /** MariaDB: the event was generated on a replica as part of a row-based update (log_slave_updates). */
  ARTIFICIAL: 0x20,
} as const;

/** Checksum algorithms announced in the FORMAT_DESCRIPTION event. */
export const ChecksumAlgorithm = {
  OFF: 0,
  CRC32: 1,
  UNDEFINED: 255,
} as const;
