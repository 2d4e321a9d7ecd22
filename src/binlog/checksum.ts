import { crc32 } from 'node:zlib';
import { EVENT_HEADER_LENGTH } from './event-header';
import { EventFlag, EventType } from './event-types';

/**
 * The CRC32 of an event's first `n` bytes as the server computes it. MySQL and MariaDB write the
 * FORMAT_DESCRIPTION of an open binlog file with LOG_EVENT_BINLOG_IN_USE_F set and clear the flag
 * in place when the file is closed, without rewriting the footer: they checksum that event with the
 * flag cleared, and verify it the same way.
 */
export function eventCrc32(event: Buffer, n: number): number {
  const flagsOffset = 17;
  if (event[4] !== EventType.FORMAT_DESCRIPTION || (event[flagsOffset]! & EventFlag.BINLOG_IN_USE) === 0)
    return crc32(event.subarray(0, n));
  const header = Buffer.from(event.subarray(0, EVENT_HEADER_LENGTH));
  header[flagsOffset] = header[flagsOffset]! & ~EventFlag.BINLOG_IN_USE;
  return crc32(event.subarray(EVENT_HEADER_LENGTH, n), crc32(header));
}
