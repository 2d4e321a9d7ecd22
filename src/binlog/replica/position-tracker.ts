/**
 * Follows a dump stream event by event and knows, at every transaction boundary, the exact point a
 * new connection must resume from: file, position and GTID state. Pure state machine: feed it each
 * event in order with `observe`; it never does I/O.
 *
 * Why positions advance only at boundaries: resuming in the middle of a transaction would deliver
 * its tail without its head (table maps, BEGIN, GTID), so the resume point after a commit is the
 * only point where "no event lost or repeated" holds.
 */
import {
  decodeMariadbGtid,
  decodeMariadbGtidList,
  decodeMysqlGtid,
  decodeMysqlTaggedGtid,
  decodePreviousGtids,
  decodeQuery,
  decodeRotate,
} from '../event-bodies';
import { CHECKSUM_LENGTH, EVENT_HEADER_LENGTH, type EventHeader } from '../event-header';
import { EventType } from '../event-types';
import { type MariadbGtid, MariadbGtidState, MysqlGtidSet } from '../gtid-set';
import type { BinlogPosition } from '../types';

/** Post-header lengths of binlog v4 for the events read here (the same in every MySQL/MariaDB). */
const ROTATE_POST_HEADER = 8;
const QUERY_POST_HEADER = 13;

/** Where a stream starts: a file/position (optionally with the GTID state there) or only a GTID state. */
export type StartPosition = BinlogPosition | { gtid: string };

export type ServerFlavor = 'mariadb' | 'mysql';

/** What the tracker learned from one event. */
export interface ObservedEvent {
  /** File holding the event; undefined before the first ROTATE (never happens on a real stream). */
  file: string | undefined;
  /** Offset of the event in that file; undefined for artificial events (fake ROTATE, heartbeats). */
  pos: number | undefined;
  /** Set when this event closes a transaction (or is a DDL / ROTATE between transactions). */
  boundary: BinlogPosition | undefined;
}

type TrxState = 'none' | 'open' | 'standalone';

export class PositionTracker {
  private file: string | undefined;
  private gtid: MariadbGtidState | MysqlGtidSet | undefined;
  private trx: TrxState = 'none';
  private pendingMariaDb: MariadbGtid | undefined;
  private pendingMysql: { uuid: string; gno: bigint } | undefined;
  /** False while file/pos cannot be trusted as a resume point (GTID start before the first commit). */
  private positionValid: boolean;
  /** True while every event of the current file since its start has been seen (so GTID lists apply). */
  private wholeFile: boolean;
  private last: StartPosition;
  /** Binlog checksum length in bytes (0 or 4), as negotiated for this stream. */
  private readonly checksumLength: number;

  constructor(
    private readonly flavor: ServerFlavor,
    start: StartPosition,
    opts: { checksum: boolean },
  ) {
    this.checksumLength = opts.checksum ? CHECKSUM_LENGTH : 0;
    this.last = { ...start };
    const hasFile = 'file' in start && start.file !== '';
    this.positionValid = hasFile;
    this.wholeFile = hasFile && (start as BinlogPosition).pos <= 4;
    if (hasFile) this.file = (start as BinlogPosition).file;
    if (start.gtid !== undefined && start.gtid !== '') {
      this.gtid = flavor === 'mariadb' ? MariadbGtidState.parse(start.gtid) : MysqlGtidSet.parse(start.gtid);
    }
  }

  /** The point to resume from after everything observed so far (the last transaction boundary). */
  resumePosition(): StartPosition {
    return { ...this.last };
  }

  /** True between the first event of a transaction and its commit. */
  inTransaction(): boolean {
    return this.trx !== 'none' || this.pendingMysql !== undefined;
  }

  /** Feeds one whole event (header included, checksum included when negotiated). */
  observe(ev: Buffer, h: EventHeader): ObservedEvent {
    const bodyEnd = ev.length - this.checksumLength;
    const body = EVENT_HEADER_LENGTH;
    const artificial = h.logPos === 0;
    const pos = artificial ? undefined : h.logPos - h.eventSize;
    let boundary: BinlogPosition | undefined;

    switch (h.type) {
      case EventType.HEARTBEAT:
      case EventType.HEARTBEAT_V2:
        // Heartbeats are not in the binlog; their log_pos repeats the last event's.
        return { file: this.file, pos: undefined, boundary: undefined };
      case EventType.ROTATE: {
        const rot = decodeRotate(ev, body, bodyEnd, ROTATE_POST_HEADER);
        const r = { file: rot.nextFile, pos: rot.nextPos };
        const eventFile = this.file;
        this.file = r.file;
        if (!artificial) {
          // A real ROTATE ends a file: everything in it has been sent.
          this.positionValid = true;
        }
        this.wholeFile = r.pos <= 4 && (!artificial || this.wholeFile || this.positionValid);
        if (this.trx === 'none' && this.pendingMysql === undefined && this.positionValid) {
          boundary = this.commitAt(r.file, r.pos);
        }
        return { file: artificial ? r.file : eventFile, pos, boundary };
      }
      case EventType.MARIADB_GTID_LIST:
        if (this.gtid === undefined && this.wholeFile && this.flavor === 'mariadb') {
          // The list holds the last GTID per (domain, server), the newest of each domain last, so
          // parsing it in order (later entries win) gives the per-domain position.
          this.gtid = MariadbGtidState.parse(decodeMariadbGtidList(ev, body, bodyEnd).join(','));
        }
        break;
      case EventType.PREVIOUS_GTIDS:
        if (this.gtid === undefined && this.wholeFile && this.flavor === 'mysql')
          this.gtid = MysqlGtidSet.parse(decodePreviousGtids(ev, body, bodyEnd));
        break;
      case EventType.MARIADB_GTID: {
        const g = decodeMariadbGtid(ev, body, bodyEnd, h.serverId);
        this.pendingMariaDb = { domainId: g.domainId, serverId: g.serverId, seqNo: g.seqNo };
        this.trx = g.standalone ? 'standalone' : 'open';
        break;
      }
      case EventType.GTID:
        {
          const g = decodeMysqlGtid(ev, body, bodyEnd);
          this.pendingMysql = { uuid: g.sid, gno: g.gno };
        }
        break;
      case EventType.ANONYMOUS_GTID:
        break;
      case EventType.GTID_TAGGED:
        {
          const g = decodeMysqlTaggedGtid(ev, body, bodyEnd);
          this.pendingMysql = { uuid: g.sid, gno: g.gno };
        }
        break;
      case EventType.QUERY:
      case EventType.MARIADB_QUERY_COMPRESSED: {
        const role = decodeQuery(ev, body, bodyEnd, QUERY_POST_HEADER, h.type !== EventType.QUERY).statement;
        if (role === 'begin') {
          this.trx = 'open';
        } else if (role === 'commit' || role === 'rollback' || this.trx !== 'open') {
          // COMMIT/ROLLBACK end a transaction; any other statement outside one is a DDL (or a
          // MariaDB standalone group) and is its own transaction.
          boundary = this.endTransaction(h);
        }
        break;
      }
      case EventType.XID:
      case EventType.XA_PREPARE:
      case EventType.TRANSACTION_PAYLOAD:
        // TRANSACTION_PAYLOAD (MySQL compression) carries a whole transaction inside it.
        boundary = this.endTransaction(h);
        break;
      default:
        break;
    }
    return { file: this.file, pos, boundary };
  }

  private endTransaction(h: EventHeader): BinlogPosition | undefined {
    if (this.gtid instanceof MariadbGtidState && this.pendingMariaDb) this.gtid.update(this.pendingMariaDb);
    if (this.gtid instanceof MysqlGtidSet && this.pendingMysql)
      this.gtid.add(this.pendingMysql.uuid, this.pendingMysql.gno);
    this.pendingMariaDb = undefined;
    this.pendingMysql = undefined;
    this.trx = 'none';
    if (h.logPos === 0 || this.file === undefined) return undefined;
    this.positionValid = true;
    return this.commitAt(this.file, h.logPos);
  }

  private commitAt(file: string, pos: number): BinlogPosition {
    const p: BinlogPosition = { file, pos };
    const gtid = this.gtid?.toString();
    // An empty set (a MySQL server without GTIDs) is not a resume point: leave it out.
    if (gtid) p.gtid = gtid;
    this.last = p;
    return { ...p };
  }
}
