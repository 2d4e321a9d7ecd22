import type { BinlogEvent, RowsEvent } from './events';
import { MariadbGtidState, MysqlGtidSet } from './gtid-set';
import type { BinlogPosition } from './types';

/** An event with where it starts and where the next event starts (file-reader.ts yields these). */
export interface SequencedEvent {
  file: string;
  pos: number;
  nextPos: number;
  event: BinlogEvent;
}

/** Fields every transaction item carries. */
interface ItemBase {
  /** GTID of the transaction (`uuid:n` or `domain-server-seq`); undefined without GTIDs. */
  gtid: string | undefined;
  /** Seconds since the epoch from the event header (when the statement ran on the origin). */
  timestamp: number;
  /** Where the event that produced this item starts. */
  file: string;
  pos: number;
}

/** A transaction starts. */
export interface BeginItem extends ItemBase {
  kind: 'begin';
}

/** Row changes of one rows event, in binlog order. */
export interface RowsItem extends ItemBase {
  kind: 'rows';
  event: RowsEvent;
  /** The SQL statement behind the rows when the server logged it (MariaDB annotate / MySQL rows query). */
  statement?: string;
}

/** A DDL (or statement-logged DML) statement inside the current transaction. */
export interface StatementItem extends ItemBase {
  kind: 'statement';
  /** 'ddl' for schema changes, 'dml' for statement-based changes (binlog_format=STATEMENT/MIXED). */
  statementKind: 'ddl' | 'dml';
  schema: string;
  query: string;
}

/** The transaction ends; `resumeFrom` is where to continue after it. */
export interface CommitItem extends ItemBase {
  kind: 'commit';
  /** Next event after the transaction, plus the GTID state including this transaction. */
  resumeFrom: BinlogPosition;
  /** True when the transaction ended with ROLLBACK (non-transactional changes were still logged). */
  rolledBack: boolean;
  xid?: bigint;
}

/** The stream moved to another file between transactions; a valid resume point. */
export interface RotateItem {
  kind: 'rotate';
  resumeFrom: BinlogPosition;
}

export type TransactionItem = BeginItem | RowsItem | StatementItem | CommitItem | RotateItem;

export interface TransactionAssemblerOptions {
  /**
   * GTID state at the start position (MySQL GTID set or MariaDB `domain-server-seq,…`). When
   * absent, the first PREVIOUS_GTIDS / GTID_LIST event of the stream seeds it, which is exact only
   * when reading starts at the beginning of a file.
   */
  gtidState?: string;
}

const NONE: TransactionItem[] = [];

/**
 * Turns decoded events into transaction-boundary-aware items: begin (with GTID), the row changes
 * and statements in order, commit with the position to resume from after the transaction.
 * Rows are handed on per event as they arrive, so a huge transaction never sits in memory here.
 * Pure logic without I/O: the file reader and the live replica stream both feed it.
 */
export class TransactionAssembler {
  private mysqlGtids: MysqlGtidSet | undefined;
  private mariadbGtids: MariadbGtidState | undefined;
  private inTransaction = false;
  private pendingGtid: { gtid: string | undefined; apply: () => void } | undefined;
  private current: { gtid: string | undefined; apply: (() => void) | undefined } = {
    gtid: undefined,
    apply: undefined,
  };
  private standalone = false;
  private statement: string | undefined;

  constructor(options: TransactionAssemblerOptions = {}) {
    const state = options.gtidState?.trim();
    if (state) {
      if (/^\d+-\d+-\d+/.test(state)) this.mariadbGtids = MariadbGtidState.parse(state);
      else this.mysqlGtids = MysqlGtidSet.parse(state);
    }
  }

  /** True between a begin and its commit. */
  get insideTransaction(): boolean {
    return this.inTransaction;
  }

  /** The GTID state after the last committed transaction, or undefined without GTIDs. */
  get gtidState(): string | undefined {
    const s = this.mysqlGtids ?? this.mariadbGtids;
    return s && !s.isEmpty ? s.toString() : undefined;
  }

  /** Feeds one event; returns the items it completes (often none). */
  accept(e: SequencedEvent): TransactionItem[] {
    const ev = e.event;
    switch (ev.kind) {
      case 'transactionPayload': {
        // The inner events of a compressed transaction share the outer event's position; the
        // transaction's resume point is after the payload event.
        const out: TransactionItem[] = [];
        for (const inner of ev.events)
          out.push(...this.accept({ file: e.file, pos: e.pos, nextPos: e.nextPos, event: inner }));
        return out;
      }
      case 'previousGtids':
        if (!this.mysqlGtids && !this.mariadbGtids) this.mysqlGtids = MysqlGtidSet.parse(ev.gtidSet);
        return NONE;
      case 'mariadbGtidList':
        if (!this.mysqlGtids && !this.mariadbGtids)
          this.mariadbGtids = MariadbGtidState.parse(ev.gtids.join(','));
        return NONE;
      case 'gtid': {
        if (ev.flavor === 'mysql') {
          const { sid, gno, anonymous } = ev;
          this.pendingGtid = {
            gtid: ev.gtid,
            apply: () => {
              if (anonymous) return;
              this.mysqlGtids ??= new MysqlGtidSet();
              this.mysqlGtids.add(sid, gno);
            },
          };
          // MySQL logs DDL as GTID + one QUERY without BEGIN.
          this.standalone = true;
        } else {
          const g = { domainId: ev.domainId, serverId: ev.serverId, seqNo: ev.seqNo };
          this.pendingGtid = {
            gtid: ev.gtid,
            apply: () => {
              this.mariadbGtids ??= new MariadbGtidState();
              this.mariadbGtids.update(g);
            },
          };
          this.standalone = ev.standalone;
        }
        return NONE;
      }
      case 'query':
        return this.onQuery(e, ev);
      case 'annotateRows':
      case 'rowsQuery':
        this.statement = ev.query;
        return NONE;
      case 'rows': {
        const out: TransactionItem[] = [];
        if (!this.inTransaction) out.push(this.begin(e));
        const item: RowsItem = { kind: 'rows', ...this.base(e), event: ev };
        if (this.statement !== undefined) item.statement = this.statement;
        out.push(item);
        return out;
      }
      case 'xid':
        if (!this.inTransaction) return NONE;
        return [this.commit(e, false, ev.xid)];
      case 'unknown':
        // MySQL XA PREPARE ends the prepared part of an XA transaction.
        if (ev.type === 38 && this.inTransaction) return [this.commit(e, false)];
        return NONE;
      case 'rotate': {
        if (this.inTransaction) return NONE;
        return [{ kind: 'rotate', resumeFrom: this.resume(ev.nextFile, ev.nextPos) }];
      }
      default:
        return NONE;
    }
  }

  private onQuery(e: SequencedEvent, ev: Extract<BinlogEvent, { kind: 'query' }>): TransactionItem[] {
    switch (ev.statement) {
      case 'begin':
        if (this.inTransaction) return NONE;
        this.standalone = false;
        return [this.begin(e)];
      case 'commit':
        return this.inTransaction ? [this.commit(e, false)] : NONE;
      case 'rollback':
        return this.inTransaction ? [this.commit(e, true)] : NONE;
      case 'xa': {
        const verb = ev.query.trim().slice(2).trim().split(/\s+/)[0]?.toUpperCase();
        if (verb === 'START' || verb === 'BEGIN') return this.inTransaction ? NONE : [this.begin(e)];
        if (verb === 'PREPARE' && this.inTransaction) return [this.commit(e, false)];
        if (verb === 'COMMIT' || verb === 'ROLLBACK') {
          // The second phase is its own GTID-carrying transaction without rows.
          const begin = this.inTransaction ? [] : [this.begin(e)];
          return [...begin, this.commit(e, verb === 'ROLLBACK')];
        }
        return NONE;
      }
      case 'ddl':
      case 'dml': {
        const item: StatementItem = {
          kind: 'statement',
          ...this.base(e),
          statementKind: ev.statement,
          schema: ev.schema,
          query: ev.query,
        };
        if (this.inTransaction && !this.standalone) return [item];
        // A statement on its own is a transaction of its own.
        const out: TransactionItem[] = this.inTransaction ? [] : [this.begin(e)];
        out.push(item, this.commit(e, false));
        return out;
      }
      default:
        return NONE;
    }
  }

  private base(e: SequencedEvent) {
    return { gtid: this.current.gtid, timestamp: e.event.header.timestamp, file: e.file, pos: e.pos };
  }

  private begin(e: SequencedEvent): BeginItem {
    this.inTransaction = true;
    this.current = { gtid: this.pendingGtid?.gtid, apply: this.pendingGtid?.apply };
    this.pendingGtid = undefined;
    return { kind: 'begin', ...this.base(e) };
  }

  private commit(e: SequencedEvent, rolledBack: boolean, xid?: bigint): CommitItem {
    this.current.apply?.();
    const item: CommitItem = {
      kind: 'commit',
      ...this.base(e),
      resumeFrom: this.resume(e.file, e.nextPos),
      rolledBack,
    };
    if (xid !== undefined) item.xid = xid;
    this.inTransaction = false;
    this.standalone = false;
    this.statement = undefined;
    this.current = { gtid: undefined, apply: undefined };
    return item;
  }

  private resume(file: string, pos: number): BinlogPosition {
    const gtid = this.gtidState;
    return gtid === undefined ? { file, pos } : { file, pos, gtid };
  }
}
