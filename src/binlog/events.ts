import type { EventHeader } from './event-header';
import type { RowChange, RowChangeKind, TableSchema } from './types';

/** Where an event starts in a binlog file. */
export interface EventPosition {
  file: string;
  pos: number;
}

interface EventBase {
  header: EventHeader;
  /** Where the event starts, when the caller told the decoder. */
  position?: EventPosition;
}

/** The first event of every binlog file (after the magic); describes how to read the rest. */
export interface FormatDescriptionEvent extends EventBase {
  kind: 'formatDescription';
  binlogVersion: number;
  serverVersion: string;
  isMariaDb: boolean;
  /** ChecksumAlgorithm: 0 off, 1 CRC32. */
  checksumAlgorithm: number;
  /** Post-header length for event type t is at index t-1. */
  postHeaderLengths: Buffer;
}

/** The server switches to another binlog file (also sent first, as a fake rotate, by a live dump). */
export interface RotateEvent extends EventBase {
  kind: 'rotate';
  nextFile: string;
  nextPos: number;
}

export interface TableMapEvent extends EventBase {
  kind: 'tableMap';
  table: TableSchema;
  /** True when the server sent no column names (binlog_row_metadata=MINIMAL): names need resolving. */
  needsColumnNames: boolean;
}

/** One WRITE/UPDATE/DELETE rows event, its rows decoded. */
export interface RowsEvent extends EventBase {
  kind: 'rows';
  change: RowChangeKind;
  /** 1 for *_ROWS_V1 (and MariaDB), 2 for MySQL *_ROWS_V2. */
  version: 1 | 2;
  table: TableSchema;
  /** Rows event flags; bit 0 (STMT_END_F) marks the last rows event of a statement. */
  flags: number;
  rows: RowChange[];
}

/** What a QUERY event means for transaction boundaries. */
/** 'other': only comments (MariaDB's dummy events). */
export type QueryStatementKind = 'begin' | 'commit' | 'rollback' | 'xa' | 'ddl' | 'dml' | 'other';

export interface QueryEvent extends EventBase {
  kind: 'query';
  /** Default database of the statement (may be empty). */
  schema: string;
  query: string;
  statement: QueryStatementKind;
  threadId: number;
  execTime: number;
  errorCode: number;
}

export interface XidEvent extends EventBase {
  kind: 'xid';
  xid: bigint;
}

/** A MySQL GTID / ANONYMOUS_GTID or a MariaDB GTID event: the start of a transaction. */
export type GtidEvent = MysqlGtidEvent | MariadbGtidEvent;

export interface MysqlGtidEvent extends EventBase {
  kind: 'gtid';
  flavor: 'mysql';
  anonymous: boolean;
  /** `uuid:gno`; undefined for anonymous transactions. */
  gtid: string | undefined;
  /** The source: the server UUID, or `uuid:tag` for a tagged GTID (MySQL 8.3+). */
  sid: string;
  /** The tag of a tagged GTID, lowercase. */
  tag?: string;
  gno: bigint;
  lastCommitted?: bigint;
  sequenceNumber?: bigint;
}

export interface MariadbGtidEvent extends EventBase {
  kind: 'gtid';
  flavor: 'mariadb';
  /** `domain-server-seq`. */
  gtid: string;
  domainId: number;
  serverId: number;
  seqNo: bigint;
  /** FL_* flags: 1 standalone (no BEGIN/COMMIT follows), 2 group commit id present, 4 transactional, 32 DDL, … */
  flags: number;
  /** True when this GTID covers a single statement without BEGIN/COMMIT (DDL, non-transactional). */
  standalone: boolean;
  commitId?: bigint;
}

/** MariaDB GTID_LIST: the binlog state at the start of a file. */
export interface MariadbGtidListEvent extends EventBase {
  kind: 'mariadbGtidList';
  gtids: string[];
}

/** MySQL PREVIOUS_GTIDS: the GTID set executed before this file. */
export interface PreviousGtidsEvent extends EventBase {
  kind: 'previousGtids';
  gtidSet: string;
}

/** MariaDB ANNOTATE_ROWS: the SQL statement that produced the following rows events. */
export interface AnnotateRowsEvent extends EventBase {
  kind: 'annotateRows';
  query: string;
}

/** MySQL ROWS_QUERY (binlog_rows_query_log_events=ON): the SQL behind the following rows events. */
export interface RowsQueryEvent extends EventBase {
  kind: 'rowsQuery';
  query: string;
}

/** Sent by a live server when it has nothing to send; never in files. */
export interface HeartbeatEvent extends EventBase {
  kind: 'heartbeat';
  file: string;
}

/** MySQL 8 compressed transaction, decompressed and decoded. */
export interface TransactionPayloadEvent extends EventBase {
  kind: 'transactionPayload';
  /** 0 zstd, 255 none. */
  compression: number;
  uncompressedSize: number;
  events: BinlogEvent[];
}

export interface StopEvent extends EventBase {
  kind: 'stop';
}

/** MariaDB BINLOG_CHECKPOINT: crash-recovery bookkeeping, no data. */
export interface BinlogCheckpointEvent extends EventBase {
  kind: 'binlogCheckpoint';
  file: string;
}

/** Anything else (INTVAR, RAND, USER_VAR, …): skipped without decoding. */
export interface UnknownEvent extends EventBase {
  kind: 'unknown';
  type: number;
}

/** One decoded binlog event. Switch on `kind`. */
export type BinlogEvent =
  | FormatDescriptionEvent
  | RotateEvent
  | TableMapEvent
  | RowsEvent
  | QueryEvent
  | XidEvent
  | GtidEvent
  | MariadbGtidListEvent
  | PreviousGtidsEvent
  | AnnotateRowsEvent
  | RowsQueryEvent
  | HeartbeatEvent
  | TransactionPayloadEvent
  | StopEvent
  | BinlogCheckpointEvent
  | UnknownEvent;
