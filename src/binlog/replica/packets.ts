/**
 * Payloads of the replication commands a replica sends (the packet body after the 4-byte packet
 * header). Pure byte builders, unit-tested against the protocol layout.
 */

export const COM_BINLOG_DUMP = 0x12;
export const COM_REGISTER_SLAVE = 0x15;
export const COM_BINLOG_DUMP_GTID = 0x1e;

/** COM_BINLOG_DUMP flags. */
export const BinlogDumpFlag = {
  /** Send EOF at the end of the binlog instead of waiting for new events. */
  NON_BLOCK: 0x01,
  /** MariaDB: also send ANNOTATE_ROWS events (the SQL text of row events). */
  SEND_ANNOTATE_ROWS: 0x02,
  /** COM_BINLOG_DUMP_GTID: the packet carries a GTID set. */
  THROUGH_GTID: 0x04,
} as const;

export interface RegisterReplicaFields {
  serverId: number;
  /** What SHOW SLAVE HOSTS shows for this replica. */
  hostname?: string;
  user?: string;
  password?: string;
  port?: number;
}

/**
 * COM_REGISTER_SLAVE: command, server_id u32, hostname/user/password as 1-byte-length strings,
 * port u16, replication rank u32 (unused, 0), master id u32 (0: the server fills it in).
 */
export function registerReplicaPayload(f: RegisterReplicaFields): Buffer {
  const host = Buffer.from(f.hostname ?? '', 'utf8');
  const user = Buffer.from(f.user ?? '', 'utf8');
  const pass = Buffer.from(f.password ?? '', 'utf8');
  for (const [name, b] of [
    ['hostname', host],
    ['user', user],
    ['password', pass],
  ] as const) {
    if (b.length > 255) throw new Error(`COM_REGISTER_SLAVE ${name} is longer than 255 bytes`);
  }
  const buf = Buffer.alloc(1 + 4 + 1 + host.length + 1 + user.length + 1 + pass.length + 2 + 4 + 4);
  let off = buf.writeUInt8(COM_REGISTER_SLAVE, 0);
  off = buf.writeUInt32LE(checkServerId(f.serverId), off);
  for (const b of [host, user, pass]) {
    off = buf.writeUInt8(b.length, off);
    off += b.copy(buf, off);
  }
  off = buf.writeUInt16LE(f.port ?? 0, off);
  off = buf.writeUInt32LE(0, off);
  buf.writeUInt32LE(0, off);
  return buf;
}

/**
 * COM_BINLOG_DUMP: command, position u32, flags u16, server_id u32, file name (rest of packet).
 * Positions ≥ 4 GiB cannot be expressed here (use GTIDs for such files).
 */
export function binlogDumpPayload(a: {
  serverId: number;
  file: string;
  pos: number;
  flags?: number;
}): Buffer {
  if (!Number.isInteger(a.pos) || a.pos < 0 || a.pos > 0xffffffff) {
    throw new Error(`binlog position ${a.pos} does not fit COM_BINLOG_DUMP's 32-bit field`);
  }
  const name = Buffer.from(a.file, 'utf8');
  const buf = Buffer.alloc(1 + 4 + 2 + 4 + name.length);
  let off = buf.writeUInt8(COM_BINLOG_DUMP, 0);
  off = buf.writeUInt32LE(a.pos, off);
  off = buf.writeUInt16LE(a.flags ?? 0, off);
  off = buf.writeUInt32LE(checkServerId(a.serverId), off);
  name.copy(buf, off);
  return buf;
}

/**
 * COM_BINLOG_DUMP_GTID (MySQL 5.6+): command, flags u16, server_id u32, file name length u32, file
 * name, position u64, then (with THROUGH_GTID) the SID block length u32 and the SID block.
 */
export function binlogDumpGtidPayload(a: {
  serverId: number;
  sidBlock: Buffer;
  file?: string;
  pos?: number;
  flags?: number;
}): Buffer {
  const name = Buffer.from(a.file ?? '', 'utf8');
  const flags = (a.flags ?? 0) | BinlogDumpFlag.THROUGH_GTID;
  const buf = Buffer.alloc(1 + 2 + 4 + 4 + name.length + 8 + 4 + a.sidBlock.length);
  let off = buf.writeUInt8(COM_BINLOG_DUMP_GTID, 0);
  off = buf.writeUInt16LE(flags, off);
  off = buf.writeUInt32LE(checkServerId(a.serverId), off);
  off = buf.writeUInt32LE(name.length, off);
  off += name.copy(buf, off);
  off = buf.writeBigUInt64LE(BigInt(a.pos ?? 4), off);
  off = buf.writeUInt32LE(a.sidBlock.length, off);
  a.sidBlock.copy(buf, off);
  return buf;
}

function checkServerId(id: number): number {
  if (!Number.isInteger(id) || id < 1 || id > 0xffffffff) {
    throw new Error(`replica server id must be an integer in 1..4294967295, got ${id}`);
  }
  return id;
}
