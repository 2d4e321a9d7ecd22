/**
 * GTID bookkeeping for resume positions: a MySQL GTID set (`uuid:1-5:7,uuid2:1-3`) and a MariaDB
 * GTID state (`domain-server-seq,…`, one entry per replication domain). Pure data structures;
 * the transaction assembler updates them as GTID events pass.
 */

/** A MySQL GTID set: per source UUID, sorted disjoint closed intervals of transaction numbers. */
export class MysqlGtidSet {
  private readonly bySid = new Map<string, Array<[bigint, bigint]>>();

  /** Parses `uuid:1-5:7,uuid2:1-3` (whitespace and newlines allowed, as SHOW MASTER STATUS prints). */
  static parse(text: string): MysqlGtidSet {
    const set = new MysqlGtidSet();
    for (const part of text.split(',')) {
      const trimmed = part.trim();
      if (!trimmed) continue;
      const [sid, ...ranges] = trimmed.split(':');
      if (!sid || ranges.length === 0) throw new Error(`invalid MySQL GTID set element "${trimmed}"`);
      for (const r of ranges) {
        const [a, b] = r.split('-');
        if (!a || !/^\d+$/.test(a) || (b !== undefined && !/^\d+$/.test(b)))
          throw new Error(`invalid MySQL GTID interval "${r}" in "${trimmed}"`);
        set.addInterval(sid.toLowerCase(), BigInt(a), BigInt(b ?? a));
      }
    }
    return set;
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
    return [...this.bySid.keys()]
      .sort()
      .map(
        (sid) =>
          `${sid}:${this.bySid
            .get(sid)!
            .map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`))
            .join(':')}`,
      )
      .join(',');
  }
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
