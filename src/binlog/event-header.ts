/** Size in bytes of the common event header of binlog format v4. */
export const EVENT_HEADER_LENGTH = 19;
/** Size of the CRC32 footer of an event when the binlog has checksums on. */
export const CHECKSUM_LENGTH = 4;
/** The four bytes every binlog file starts with: 0xfe 'b' 'i' 'n'. */
export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);

/** The common 19-byte header in front of every v4 binlog event. */
export interface EventHeader {
  /** Seconds since the epoch when the statement started on the originating server. */
  timestamp: number;
  type: number;
  serverId: number;
  /** Size of the whole event: header, body and checksum footer. */
  eventSize: number;
  /** Position of the NEXT event in the originating binlog file (0 for artificial events). */
  logPos: number;
  flags: number;
}

/**
 * Reads the header at `offset`. The caller checks that 19 bytes are there; this function only
 * reads (it is on the hot path of every event).
 */
export function readEventHeader(buf: Buffer, offset = 0): EventHeader {
  return {
    timestamp: buf.readUInt32LE(offset),
    type: buf[offset + 4]!,
    serverId: buf.readUInt32LE(offset + 5),
    eventSize: buf.readUInt32LE(offset + 9),
    logPos: buf.readUInt32LE(offset + 13),
    flags: buf.readUInt16LE(offset + 17),
  };
}
