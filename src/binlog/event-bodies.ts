/**
 * Decoders for the bodies of the small, non-row events. Each takes the buffer, the body start
 * (right after the 19-byte header) and the body end (before any checksum) and returns the fields
 * of its event; the dispatcher in decoder.ts adds header and position.
 */
import { ByteCursor } from './byte-cursor';
import type { QueryStatementKind } from './events';
import { formatMariadbGtid, formatUuid, MysqlGtidSet } from './gtid-set';
import { readSerializedString, readVarlenSigned, readVarlenUnsigned } from './mysql-serialization';
import { uncompressMariadb } from './rows-event';

/** The fields of a FORMAT_DESCRIPTION body. */
export interface FormatDescription {
  binlogVersion: number;
  serverVersion: string;
  isMariaDb: boolean;
  checksumAlgorithm: number;
  postHeaderLengths: Buffer;
}

/** First version of each flavour whose FORMAT_DESCRIPTION ends with a checksum algorithm byte. */
function versionHasChecksumField(version: string, isMariaDb: boolean): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const v = Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3]);
  return isMariaDb ? v >= 50300 : v >= 50601;
}

/**
 * FORMAT_DESCRIPTION: binlog version, server version (50 bytes, NUL padded), create time, header
 * length, post-header lengths per event type, and (servers since MySQL 5.6.1 / MariaDB 5.3) a
 * checksum algorithm byte followed by the 4-byte checksum — present even when checksums are off.
 * `bodyEnd` here is the end of the whole event (this event tells us about its own footer).
 */
export function decodeFormatDescription(buf: Buffer, start: number, eventEnd: number): FormatDescription {
  const c = new ByteCursor(buf, start, eventEnd);
  const binlogVersion = c.u16();
  const rawVersion = c.bytes(50);
  const nul = rawVersion.indexOf(0);
  const serverVersion = rawVersion.toString('latin1', 0, nul === -1 ? 50 : nul);
  c.skip(4); // create timestamp
  const headerLength = c.u8();
  if (headerLength !== 19)
    throw new Error(`unsupported event header length ${headerLength} (binlog v${binlogVersion})`);
  const isMariaDb = /mariadb/i.test(serverVersion);
  let checksumAlgorithm = 0;
  let lengthsEnd = eventEnd;
  if (versionHasChecksumField(serverVersion, isMariaDb)) {
    lengthsEnd = eventEnd - 5;
    checksumAlgorithm = buf[lengthsEnd]!;
  }
  if (lengthsEnd < c.pos) throw new Error('format description event too short');
  return {
    binlogVersion,
    serverVersion,
    isMariaDb,
    checksumAlgorithm,
    postHeaderLengths: Buffer.from(buf.subarray(c.pos, lengthsEnd)),
  };
}

export function decodeRotate(buf: Buffer, start: number, end: number, postHeaderLength: number) {
  const c = new ByteCursor(buf, start, end);
  const nextPos = postHeaderLength >= 8 ? Number(c.u64()) : 4;
  return { nextPos, nextFile: c.rest().toString('utf8') };
}

const LEADING_COMMENTS = /^(?:\s+|\/\*(?!!)[\s\S]*?\*\/|#[^\n]*\n|--[ \t][^\n]*\n)*/;

/** What a statement means for transaction boundaries, from its first keywords. */
export function classifyQuery(query: string): QueryStatementKind {
  const text = query.replace(LEADING_COMMENTS, '');
  const head = text.slice(0, 32).toUpperCase();
  if (/^BEGIN\b/.test(head) || /^START\s+TRANSACTION\b/.test(head)) return 'begin';
  if (/^COMMIT\b/.test(head)) return 'commit';
  if (/^ROLLBACK\s+TO\b/.test(head)) return 'dml';
  if (/^ROLLBACK\b/.test(head)) return 'rollback';
  if (/^XA\b/.test(head)) return 'xa';
  if (text.length === 0) return 'other';
  if (/^(INSERT|UPDATE|DELETE|REPLACE|LOAD|SAVEPOINT|RELEASE|SET|DO|CALL|SELECT|WITH)\b/.test(head))
    return 'dml';
  return 'ddl';
}

/**
 * QUERY: thread id, exec time, schema length, error code, status variables (skipped: session
 * settings we do not need), the default schema and the statement text. MariaDB's
 * QUERY_COMPRESSED has the statement zlib-compressed.
 */
export function decodeQuery(
  buf: Buffer,
  start: number,
  end: number,
  postHeaderLength: number,
  compressed: boolean,
) {
  const c = new ByteCursor(buf, start, end);
  const threadId = c.u32();
  const execTime = c.u32();
  const schemaLength = c.u8();
  const errorCode = c.u16();
  const statusLength = postHeaderLength >= 13 ? c.u16() : 0;
  c.skip(Math.max(0, postHeaderLength - 13));
  c.skip(statusLength);
  const schema = c.string(schemaLength);
  c.skip(1);
  const queryBytes = compressed ? uncompressMariadb(c.rest()) : c.rest();
  const query = queryBytes.toString('utf8');
  return { threadId, execTime, errorCode, schema, query, statement: classifyQuery(query) };
}

/** MySQL GTID / ANONYMOUS_GTID: commit flag, source UUID, transaction number, logical clock. */
export function decodeMysqlGtid(buf: Buffer, start: number, end: number) {
  const c = new ByteCursor(buf, start, end);
  c.skip(1); // commit flag
  const sid = formatUuid(c.bytes(16));
  const gno = c.i64();
  let lastCommitted: bigint | undefined;
  let sequenceNumber: bigint | undefined;
  if (c.remaining >= 17 && c.u8() === 2) {
    lastCommitted = c.i64();
    sequenceNumber = c.i64();
  }
  return { sid, gno, lastCommitted, sequenceNumber };
}

export const MariadbGtidFlag = {
  STANDALONE: 1,
  GROUP_COMMIT_ID: 2,
  TRANSACTIONAL: 4,
  ALLOW_PARALLEL: 8,
  WAITED: 16,
  DDL: 32,
  PREPARED_XA: 64,
  COMPLETED_XA: 128,
} as const;

/** MariaDB GTID: sequence number, domain, flags, optional group commit id (server id is in the header). */
export function decodeMariadbGtid(buf: Buffer, start: number, end: number, serverId: number) {
  const c = new ByteCursor(buf, start, end);
  const seqNo = c.u64();
  const domainId = c.u32();
  const flags = c.u8();
  const commitId = flags & MariadbGtidFlag.GROUP_COMMIT_ID ? c.u64() : undefined;
  return {
    seqNo,
    domainId,
    serverId,
    flags,
    commitId,
    standalone: (flags & MariadbGtidFlag.STANDALONE) !== 0,
    gtid: formatMariadbGtid({ domainId, serverId, seqNo }),
  };
}

/** MariaDB GTID_LIST: count (low 28 bits) then (domain, server, seq) triples. */
export function decodeMariadbGtidList(buf: Buffer, start: number, end: number): string[] {
  const c = new ByteCursor(buf, start, end);
  const count = c.u32() & 0x0fffffff;
  const gtids: string[] = [];
  for (let i = 0; i < count; i++) {
    const domainId = c.u32();
    const serverId = c.u32();
    gtids.push(formatMariadbGtid({ domainId, serverId, seqNo: c.u64() }));
  }
  return gtids;
}

/**
 * GTID_TAGGED (MySQL 8.3+): a serialized message — version, total size, last non-ignorable field
 * id — then fields as (id, value): 0 flags, 1 the source UUID as 16 integers, 2 the transaction number,
 * 3 the tag, 4 last_committed, 5 sequence_number, then commit timestamps, transaction length and
 * server versions, which we do not need. `sid` is `uuid:tag`, the key MysqlGtidSet uses.
 */
export function decodeMysqlTaggedGtid(buf: Buffer, start: number, end: number) {
  let pos = readVarlenUnsigned(buf, start, end).next; // format version
  const size = readVarlenUnsigned(buf, pos, end);
  const messageEnd = Math.min(end, start + Number(size.value));
  pos = readVarlenUnsigned(buf, size.next, messageEnd).next; // last non-ignorable field id
  const uuid = Buffer.alloc(16);
  let gno: bigint | undefined;
  let tag: string | undefined;
  let lastCommitted: bigint | undefined;
  let sequenceNumber: bigint | undefined;
  while (pos < messageEnd) {
    const id = readVarlenUnsigned(buf, pos, messageEnd);
    pos = id.next;
    if (id.value > 5n) break; // the fields after sequence_number are not needed here
    if (id.value === 1n) {
      for (let i = 0; i < 16; i++) {
        const b = readVarlenUnsigned(buf, pos, messageEnd);
        uuid[i] = Number(b.value);
        pos = b.next;
      }
    } else if (id.value === 3n) {
      const t = readSerializedString(buf, pos, messageEnd);
      tag = t.value.toLowerCase();
      pos = t.next;
    } else {
      const v =
        id.value === 0n ? readVarlenUnsigned(buf, pos, messageEnd) : readVarlenSigned(buf, pos, messageEnd);
      pos = v.next;
      if (id.value === 2n) gno = v.value;
      else if (id.value === 4n) lastCommitted = v.value;
      else if (id.value === 5n) sequenceNumber = v.value;
    }
  }
  if (gno === undefined || tag === undefined)
    throw new Error('tagged GTID event without a transaction number or tag');
  const sid = tag ? `${formatUuid(uuid)}:${tag}` : formatUuid(uuid);
  return { sid, tag, gno, lastCommitted, sequenceNumber };
}

/**
 * MySQL PREVIOUS_GTIDS: per source a list of half-open [start, end) intervals. The first u64 is the
 * source count, or (MySQL 8.3+, once the server has executed a tagged GTID) format 1 in its top and
 * lowest byte with the count in between; format 1 entries carry a serialized tag after the UUID.
 */
export function decodePreviousGtids(buf: Buffer, start: number, end: number): string {
  const c = new ByteCursor(buf, start, end);
  const set = new MysqlGtidSet();
  const head = c.u64();
  const tagged = head >> 56n === 1n && (head & 0xffn) === 1n;
  const sids = Number(tagged ? (head >> 8n) & 0xffffffffffffn : head);
  for (let i = 0; i < sids; i++) {
    const uuid = formatUuid(c.bytes(16));
    let sid = uuid;
    if (tagged) {
      const t = readSerializedString(buf, c.pos, end);
      c.pos = t.next;
      if (t.value) sid = `${uuid}:${t.value.toLowerCase()}`;
    }
    const intervals = Number(c.u64());
    for (let j = 0; j < intervals; j++) {
      const a = c.i64();
      const b = c.i64();
      set.addInterval(sid, a, b - 1n);
    }
  }
  return set.toString();
}
