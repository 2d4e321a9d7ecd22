import type { RowChange } from '../binlog/types';
import { SYSTEM_SCHEMA } from '../connectors/target';

/**
 * Loop prevention for active-active channels (docs/bidirectional.md), pure logic.
 *
 * Every target transaction a channel pipeline opens writes a row of `otterflow.marks` first (the
 * channel id, see connectors/mysql/marks.ts). When the opposite pipeline reads that server's binlog,
 * the mark row change tells it the whole transaction came from its own channel: it drops the
 * transaction, so a change never travels back to where it came from. Marks of OTHER channels pass
 * (cascades A↔B→C work), and the reserved channel `*` — written by an application itself — means
 * "never replicate this transaction" on every channel.
 */

/** The mark table, in the `otterflow` schema of every site of a channel. */
export const MARKS_TABLE = 'marks';

/** Reserved channel id: an application transaction that writes a mark with it is not replicated by any channel. */
export const SUPPRESS_SYNC_CHANNEL = '*';

/**
 * The channel id a row change writes into the mark table, or undefined when the change is not a
 * mark (another table, or a DELETE of a mark row, which marks nothing). Column `channel` by name;
 * when the decoder has no column names (binlog_row_metadata=MINIMAL without a schema resolver) the
 * first column, which is where the table keeps it.
 */
export function markChannelOf(change: RowChange): string | undefined {
  if (change.kind === 'delete') return undefined;
  const t = change.table;
  if (t.table !== MARKS_TABLE || t.schema !== SYSTEM_SCHEMA) return undefined;
  let i = t.columns.findIndex((c) => c.name === 'channel');
  if (i < 0 && t.columns.every((c) => c.name === '')) i = 0;
  const v = i < 0 ? undefined : change.after[i];
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return undefined;
}

/** What the gate decided about one source transaction at its commit. */
export interface TransactionVerdict<T> {
  /** Changes held back while the transaction was undecided: process them now, in order. */
  release: T[];
  /** The transaction carried our channel's (or the suppress-sync) mark: none of its changes were passed. */
  dropped: boolean;
  /**
   * A mark came after the hold limit: the changes before it had already been passed on, so the
   * whole transaction was replicated (never half of it). Only an application's late `*` marker or
   * a foreign writer can cause this; our applier writes its mark first.
   */
  lateMark: boolean;
}

/**
 * Decides, one source transaction at a time, whether its row changes are replicated. Feed it every
 * row change in stream order (`offer`) and call `endTransaction` at each commit (transaction
 * boundaries come from the stream's commit positions, so a gate never needs BEGIN/GTID events).
 *
 * Changes are held until the transaction is decided, so that a mark anywhere in the first
 * `holdLimit` changes drops the whole transaction. Past that limit the gate passes changes on as
 * they come (bounded memory for huge transactions); a mark seen later is reported as `lateMark`.
 * Our own applier writes its mark as the first row of each transaction, so its transactions are
 * always decided on their first row change.
 */
export class TransactionGate<T extends { change: RowChange }> {
  private held: T[] = [];
  private dropping = false;
  private passing = false;
  private lateMark = false;

  /** `channel`: our channel id; `holdLimit`: changes held before passing through (at least 1). */
  constructor(
    readonly channel: string,
    private readonly holdLimit: number,
  ) {
    if (channel === SUPPRESS_SYNC_CHANNEL) throw new Error(`channel id ${SUPPRESS_SYNC_CHANNEL} is reserved`);
  }

  /** True when `channelId` (read from a mark row) means: drop this transaction. */
  isOurs(channelId: string): boolean {
    return channelId === this.channel || channelId === SUPPRESS_SYNC_CHANNEL;
  }

  /** One row change of the current transaction; returns the changes to process now (maybe none). */
  offer(item: T): T[] {
    if (this.dropping) return [];
    const mark = markChannelOf(item.change);
    if (mark !== undefined && this.isOurs(mark)) {
      if (this.passing) {
        this.lateMark = true;
        return [item];
      }
      this.dropping = true;
      this.held = [];
      return [];
    }
    if (this.passing) return [item];
    this.held.push(item);
    if (this.held.length < this.holdLimit) return [];
    this.passing = true;
    const out = this.held;
    this.held = [];
    return out;
  }

  /** The commit of the current transaction: its verdict, and a fresh state for the next one. */
  endTransaction(): TransactionVerdict<T> {
    const verdict: TransactionVerdict<T> = {
      release: this.held,
      dropped: this.dropping,
      lateMark: this.lateMark,
    };
    this.held = [];
    this.dropping = false;
    this.passing = false;
    this.lateMark = false;
    return verdict;
  }

  /** Changes currently held (undecided). */
  heldCount(): number {
    return this.held.length;
  }
}

/*
 * DDL markers. A DDL cannot share a transaction with a mark row, so a channel pipeline that applies
 * a DDL appends a comment naming itself instead:
 *
 *   ALTER TABLE `shop`.`orders` ADD COLUMN note TEXT
 *   /* otterflow:ddl channel=shop-ab pipeline=orders_a_to_b *\/
 *
 * MariaDB and MySQL keep a DDL's text verbatim in the binlog's QUERY event (comments included) for
 * CREATE/ALTER/RENAME/TRUNCATE TABLE, CREATE/DROP INDEX and CREATE/DROP DATABASE, so the opposite
 * pipeline recognises the echo and skips it. DROP TABLE is the exception: the server logs its own
 * text ("DROP TABLE `t` /* generated by server *\/"), see DdlHandler for how that echo stops.
 * An application may write `/* otterflow:ddl channel=* *\/` into its own DDL so that no channel
 * replicates it (the suppress-sync marker, as for rows; clients such as the `mariadb` CLI strip
 * comments unless run with --comments).
 */

export interface DdlMark {
  channel: string;
  pipeline?: string;
}

const DDL_MARK =
  /^\s*otterflow:ddl\s+channel=(\*|[A-Za-z0-9_.:-]{1,64})(?:\s+pipeline=([A-Za-z0-9_.:-]{1,64}))?\s*$/;

/** The marker comment a channel pipeline appends to a DDL it applies. */
export function ddlMarkComment(channel: string, pipeline: string): string {
  return `/* otterflow:ddl channel=${channel} pipeline=${pipeline} */`;
}

/**
 * `sql` with our marker appended on a line of its own (so a trailing `-- comment` cannot swallow it;
 * a trailing `;` is dropped, the server would take what follows it for a second statement).
 */
export function withDdlMark(sql: string, channel: string, pipeline: string): string {
  return `${sql.replace(/[\s;]+$/, '')}\n${ddlMarkComment(channel, pipeline)}`;
}

/**
 * The otterflow DDL markers in a statement: block comments (not executable `/*! … *\/` ones) outside
 * string literals and quoted names whose whole text is a marker.
 */
export function ddlMarksOf(sql: string): DdlMark[] {
  const out: DdlMark[] = [];
  if (!sql.includes('otterflow:ddl')) return out; // the common case: no scan at all
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < n) {
        if (c !== '`' && sql[j] === '\\') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      i = j + 1;
    } else if (c === '#' || (c === '-' && sql[i + 1] === '-' && /\s/.test(sql[i + 2] ?? ' '))) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      if (sql[i + 2] === '!' || (sql[i + 2] === 'M' && sql[i + 3] === '!')) {
        i += 3; // executable comment: its content is SQL, read on
        continue;
      }
      const close = sql.indexOf('*/', i + 2);
      const body = sql.slice(i + 2, close < 0 ? n : close);
      const m = DDL_MARK.exec(body);
      if (m)
        out.push(
          m[2] !== undefined ? { channel: m[1] as string, pipeline: m[2] } : { channel: m[1] as string },
        );
      i = close < 0 ? n : close + 2;
    } else {
      i++;
    }
  }
  return out;
}

/**
 * The marker that makes a channel pipeline skip a DDL: one of its own channel (the opposite pipeline
 * applied it, this is its echo) or the suppress-sync `*`. Undefined: replicate the DDL by policy.
 * Markers of other channels do not count (cascades: A↔B on channel 1 then B↔C on channel 2).
 */
export function ddlSkipMark(sql: string, channel: string): DdlMark | undefined {
  return ddlMarksOf(sql).find((m) => m.channel === channel || m.channel === SUPPRESS_SYNC_CHANNEL);
}
