/**
 * GTID bookkeeping for resume positions: a MySQL GTID set (`uuid:1-5:7,uuid2:1-3`) and a MariaDB
 * GTID state (`domain-server-seq,…`, one entry per replication domain). Pure data structures;
 * the transaction assembler updates them as GTID events pass.
 */

/**
 * A MySQL GTID set: per transaction source, sorted disjoint closed intervals of transaction numbers.
 * A source is a server UUID, or (MySQL 8.3+) a UUID with a tag, kept as `uuid:tag`; the text form is
 * MySQL's: `uuid:1-5:7:tag_a:1-3,uuid2:1-3` (the untagged intervals first, then each tag's).
 */
export class MysqlGtidSet {
  private readonly bySid = new Map<string, Array<[bigint, bigint]>>();

  /** Parses MySQL's text form (whitespace and newlines allowed, as SHOW BINARY LOG STATUS prints). */
  static parse(text: string): MysqlGtidSet {
    const set = new MysqlGtidSet();
    for (const part of text.split(',')) {
      const trimmed = part.replace(/\s+/g, '');
      if (!trimmed) continue;
      const [uuid, ...items] = trimmed.split(':');
      if (!uuid || items.length === 0) throw new Error(`invalid MySQL GTID set element "${trimmed}"`);
      let source = uuid.toLowerCase();
      let intervals = 0;
      for (const item of items) {
        if (TAG.test(item)) {
          // A tag opens the intervals that follow it (MySQL compares tags case-insensitively).
          source = `${uuid.toLowerCase()}:${item.toLowerCase()}`;
          intervals = 0;
          continue;
        }
        const [a, b] = item.split('-');
        if (!a || !/^\d+$/.test(a) || (b !== undefined && !/^\d+$/.test(b)))
          throw new Error(`invalid MySQL GTID interval "${item}" in "${trimmed}"`);
        set.addInterval(source, BigInt(a), BigInt(b ?? a));
        intervals++;
      }
      if (intervals === 0) throw new Error(`MySQL GTID set element "${trimmed}" ends without an interval`);
    }
    return set;
  }

  /** Each source with its intervals, sorted by UUID and then tag (the untagged source first). */
  entries(): Array<{ uuid: string; tag: string; intervals: Array<[bigint, bigint]> }> {
    return [...this.bySid.entries()]
      .map(([sid, intervals]) => {
        const [uuid = '', tag = ''] = sid.split(':');
        return { uuid, tag, intervals: intervals.map(([a, b]): [bigint, bigint] => [a, b]) };
      })
      .sort((x, y) => (x.uuid === y.uuid ? compare(x.tag, y.tag) : compare(x.uuid, y.uuid)));
  }

  /** True when some source carries a tag (the set then needs MySQL 8.3+ encodings). */
  get hasTags(): boolean {
    for (const sid of this.bySid.keys()) if (sid.includes(':')) return true;
    return false;
  }

  /** Adds one transaction `sid:gno`. */
  add(sid: string, gno: bigint): void {
    this.addInterval(sid, gno, gno);
  }

  /** Adds the closed interval [start, end]; merges with touching or overlapping intervals. */
  addInterval(sid: string, start: bigint, end: bigint): void {
    let list = this.bySid.get(sid);
    if (!list) {
      list = [];
      this.bySid.set(sid, list);
    }
    // Fast path: the common case is appending the next number to the last interval.
    const last = list[list.length - 1];
    if (last && start >= last[0] && start <= last[1] + 1n) {
      if (end > last[1]) last[1] = end;
      return;
    }
    list.push([start, end]);
    list.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    const merged: Array<[bigint, bigint]> = [];
    for (const iv of list) {
      const prev = merged[merged.length - 1];
      if (prev && iv[0] <= prev[1] + 1n) {
        if (iv[1] > prev[1]) prev[1] = iv[1];
      } else merged.push([iv[0], iv[1]]);
    }
    this.bySid.set(sid, merged);
  }

  contains(sid: string, gno: bigint): boolean {
    return (this.bySid.get(sid) ?? []).some(([a, b]) => gno >= a && gno <= b);
  }

  get isEmpty(): boolean {
    return this.bySid.size === 0;
  }

  clone(): MysqlGtidSet {
    const c = new MysqlGtidSet();
    for (const [sid, list] of this.bySid)
      c.bySid.set(
        sid,
        list.map(([a, b]) => [a, b]),
      );
    return c;
  }

  toString(): string {
    const byUuid = new Map<string, string[]>();
    for (const e of this.entries()) {
      const ranges = e.intervals.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(':');
      const parts = byUuid.get(e.uuid) ?? [];
      parts.push(e.tag ? `${e.tag}:${ranges}` : ranges);
      byUuid.set(e.uuid, parts);
    }
    return [...byUuid].map(([uuid, parts]) => `${uuid}:${parts.join(':')}`).join(',');
  }
}

/** A GTID tag: a letter or underscore, then up to 31 letters, digits or underscores. */
const TAG = /^[a-z_][a-z0-9_]{0,31}$/i;

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One MariaDB GTID. */
export interface MariadbGtid {
  domainId: number;
  serverId: number;
  seqNo: bigint;
}

export function formatMariadbGtid(g: MariadbGtid): string {
  return `${g.domainId}-${g.serverId}-${g.seqNo}`;
}

/** MariaDB replication state: the last GTID of each domain (what `@@gtid_slave_pos` holds). */
export class MariadbGtidState {
  private readonly byDomain = new Map<number, MariadbGtid>();

  static parse(text: string): MariadbGtidState {
    const state = new MariadbGtidState();
    for (const part of text.split(',')) {
      const trimmed = part.trim();
      if (!trimmed) continue;
      const m = /^(\d+)-(\d+)-(\d+)$/.exec(trimmed);
      if (!m) throw new Error(`invalid MariaDB GTID "${trimmed}"`);
      state.update({ domainId: Number(m[1]), serverId: Number(m[2]), seqNo: BigInt(m[3]!) });
    }
    return state;
  }

  update(g: MariadbGtid): void {
    this.byDomain.set(g.domainId, g);
  }

  get isEmpty(): boolean {
    return this.byDomain.size === 0;
  }

  clone(): MariadbGtidState {
    const c = new MariadbGtidState();
    for (const g of this.byDomain.values()) c.update({ ...g });
    return c;
  }

  toString(): string {
    return [...this.byDomain.values()]
      .sort((a, b) => a.domainId - b.domainId)
      .map(formatMariadbGtid)
      .join(',');
  }
}

/** Formats 16 raw bytes as a lowercase UUID (MySQL server_uuid / GTID source id). */
export function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
