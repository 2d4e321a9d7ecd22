/**
 * The wire form of a MySQL GTID set for COM_BINLOG_DUMP_GTID. GTID bookkeeping itself lives in
 * ../gtid-set.ts; this module only turns a set into the bytes the server expects.
 */
import { MysqlGtidSet } from '../gtid-set';
import { encodeVarlenUnsigned } from '../mysql-serialization';

/**
 * Encodes a MySQL GTID set as the "SID block" COM_BINLOG_DUMP_GTID carries: a u64 source count, then
 * per source its UUID's 16 bytes, a u64 interval count and each interval as start u64, end u64 (end
 * exclusive), all little-endian, sources in ascending order. A set with tagged GTIDs (MySQL 8.3+) uses
 * the server's format 1: the count word is (1 << 56) | (count << 8) | 1, and every source carries its
 * tag (a varlen length, then the lowercase bytes; empty for the untagged source) after the UUID.
 */
export function encodeGtidSetSidBlock(text: string): Buffer {
  const set = MysqlGtidSet.parse(text);
  const tagged = set.hasTags;
  const parts: Buffer[] = [];
  const count = Buffer.alloc(8);
  const entries = set.entries();
  count.writeBigUInt64LE(tagged ? (1n << 56n) | (BigInt(entries.length) << 8n) | 1n : BigInt(entries.length));
  parts.push(count);
  for (const e of entries) {
    const hex = e.uuid.replace(/-/g, '');
    if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`GTID set "${text}": "${e.uuid}" is not a server UUID`);
    parts.push(Buffer.from(hex, 'hex'));
    if (tagged) parts.push(encodeVarlenUnsigned(e.tag.length), Buffer.from(e.tag, 'latin1'));
    const intervals = Buffer.alloc(8 + 16 * e.intervals.length);
    let off = intervals.writeBigUInt64LE(BigInt(e.intervals.length), 0);
    for (const [start, end] of e.intervals) {
      off = intervals.writeBigUInt64LE(start, off);
      off = intervals.writeBigUInt64LE(end + 1n, off);
    }
    parts.push(intervals);
  }
  return Buffer.concat(parts);
}
