/**
 * The wire form of a MySQL GTID set for COM_BINLOG_DUMP_GTID. GTID bookkeeping itself lives in
 * ../gtid-set.ts; this module only turns a set into the bytes the server expects.
 */
import { MysqlGtidSet } from '../gtid-set';

/**
 * Encodes a MySQL GTID set as the "SID block" COM_BINLOG_DUMP_GTID carries: n_sids u64, then per
 * source UUID its 16 bytes, n_intervals u64 and each interval as start u64, end u64 (end exclusive),
 * all little-endian, UUIDs in ascending order. Tagged GTIDs (MySQL 8.3+) are refused.
 */
export function encodeGtidSetSidBlock(text: string): Buffer {
  if (/:[a-z_][a-z0-9_]*(?::|,|$)/i.test(text.replace(/\s+/g, ''))) {
    throw new Error(
      `GTID set "${text}" has tagged GTIDs (MySQL 8.3+), which this replica does not support yet`,
    );
  }
  // Parse for validation and to merge/sort intervals, then read the canonical text back.
  const canonical = MysqlGtidSet.parse(text).toString();
  const sids: Array<{ uuid: Buffer; intervals: Array<[bigint, bigint]> }> = [];
  for (const member of canonical === '' ? [] : canonical.split(',')) {
    const [uuid, ...ranges] = member.split(':');
    const hex = (uuid ?? '').replace(/-/g, '');
    if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`GTID set "${text}": "${uuid}" is not a server UUID`);
    sids.push({
      uuid: Buffer.from(hex, 'hex'),
      intervals: ranges.map((r) => {
        const [a, b] = r.split('-');
        return [BigInt(a!), BigInt(b ?? a!) + 1n];
      }),
    });
  }
  let size = 8;
  for (const s of sids) size += 16 + 8 + 16 * s.intervals.length;
  const buf = Buffer.alloc(size);
  let off = buf.writeBigUInt64LE(BigInt(sids.length), 0);
  for (const s of sids) {
    off += s.uuid.copy(buf, off);
    off = buf.writeBigUInt64LE(BigInt(s.intervals.length), off);
    for (const [start, end] of s.intervals) {
      off = buf.writeBigUInt64LE(start, off);
      off = buf.writeBigUInt64LE(end, off);
    }
  }
  return buf;
}
