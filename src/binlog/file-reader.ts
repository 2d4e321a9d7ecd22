import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { BinlogDecoder, type BinlogDecoderOptions } from './decoder';
import { BinlogDecodeError } from './errors';
import { BINLOG_MAGIC, EVENT_HEADER_LENGTH } from './event-header';
import { EventFlag } from './event-types';
import type { BinlogEvent } from './events';
import { followSchemaChanges, type SchemaResolver } from './schema-resolver';

/** One decoded event of a file with where it starts and where the next one starts. */
export interface PositionedEvent {
  file: string;
  pos: number;
  nextPos: number;
  event: BinlogEvent;
}

export interface BinlogFileReaderOptions extends BinlogDecoderOptions {
  /** First event to deliver (an event boundary, e.g. a `# at N` of mariadb-binlog). The FORMAT_DESCRIPTION is always read and delivered first. */
  startPosition?: number;
  /** Events starting at or after this offset are not delivered (like mariadb-binlog --stop-position). */
  stopPosition?: number;
  /** Bytes read per I/O; memory use is about this plus the largest event. Default 4 MiB. */
  chunkSize?: number;
  /**
   * Completes table maps from information_schema: column names when the binlog has none
   * (binlog_row_metadata=MINIMAL), MariaDB UUID/INET4/INET6 types. Default: the decoder's own.
   */
  schemaResolver?: SchemaResolver;
  /** Name used in positions and errors; defaults to the file's base name. */
  fileName?: string;
  /** Use this decoder (e.g. to continue a previous file's state) instead of a new one. */
  decoder?: BinlogDecoder;
  /** Called once when the file has been read to its end (not when stopPosition stops reading). */
  onEnd?: (end: BinlogFileEnd) => void;
}

/** How a file ended. */
export interface BinlogFileEnd {
  /** Where the last complete event ends. */
  endPosition: number;
  /**
   * The FORMAT_DESCRIPTION says the file is still being written, or was left open by a server that
   * crashed (LOG_EVENT_BINLOG_IN_USE_F).
   */
  inUse: boolean;
  /** Bytes after the last complete event: part of an event still being written (only when inUse). */
  incompleteBytes: number;
}

const DEFAULT_CHUNK = 4 * 1024 * 1024;

/**
 * Reads a binlog file as a stream of decoded events with bounded memory: the file is read in
 * chunks, events are decoded from views into the chunk (no copy), and a fresh chunk is allocated
 * for each read so that buffers handed out with earlier events stay valid.
 * A wrong magic number, a truncated last event or a checksum mismatch throws BinlogDecodeError
 * naming the file and position; nothing after the damage is delivered. A file whose
 * FORMAT_DESCRIPTION carries the in-use flag (being written, or left by a crashed server) may end
 * inside an event: reading then ends cleanly after the last complete event, and `onEnd` says so.
 */
export async function* readBinlogFile(
  path: string,
  options: BinlogFileReaderOptions = {},
): AsyncGenerator<PositionedEvent, void, undefined> {
  const file = options.fileName ?? basename(path);
  const decoder = options.decoder ?? new BinlogDecoder(options);
  const resolver = options.schemaResolver ?? decoder.schemaResolver;
  const chunkSize = Math.max(64 * 1024, options.chunkSize ?? DEFAULT_CHUNK);
  const stop = options.stopPosition ?? Number.POSITIVE_INFINITY;
  const fh = await open(path, 'r');
  try {
    let buf = Buffer.alloc(0);
    let bufStart = 0; // file offset of buf[0]
    let eof = false;

    /** Makes bytes [pos, pos+n) available in buf; false when the file ends first. */
    const ensure = async (pos: number, n: number): Promise<boolean> => {
      while (pos + n > bufStart + buf.length) {
        if (eof) return false;
        const keepFrom = Math.max(0, pos - bufStart);
        const keep = buf.length - keepFrom;
        const next = Buffer.allocUnsafe(Math.max(chunkSize, n + keep));
        if (keep > 0) buf.copy(next, 0, keepFrom);
        const { bytesRead } = await fh.read(next, keep, next.length - keep, bufStart + buf.length);
        if (bytesRead === 0) eof = true;
        bufStart += keepFrom;
        buf = next.subarray(0, keep + bytesRead);
        if (bytesRead < next.length - keep) eof = true;
      }
      return true;
    };

    if (!(await ensure(0, BINLOG_MAGIC.length)) || !buf.subarray(0, 4).equals(BINLOG_MAGIC))
      throw new BinlogDecodeError(
        `not a binlog file: the first bytes are ${buf.subarray(0, 4).toString('hex') || 'missing'}, not fe62696e`,
        { file, pos: 0 },
      );

    let pos = BINLOG_MAGIC.length;
    let first = true;
    let inUse = false;
    /** The file ends `left` bytes after `pos`: fine in an open file, damage in a closed one. */
    const endAt = (left: number, damage: string): void => {
      if (left > 0 && !inUse) throw new BinlogDecodeError(damage, { file, pos });
      options.onEnd?.({ endPosition: pos, inUse, incompleteBytes: left });
    };
    while (pos < stop) {
      if (!(await ensure(pos, EVENT_HEADER_LENGTH))) {
        const left = bufStart + buf.length - pos;
        endAt(left, `truncated event: the file ends ${left} bytes into an event header`);
        return;
      }
      const size = buf.readUInt32LE(pos - bufStart + 9);
      if (size < EVENT_HEADER_LENGTH)
        throw new BinlogDecodeError(`invalid event size ${size} in the event header`, { file, pos });
      if (!(await ensure(pos, size))) {
        const left = bufStart + buf.length - pos;
        endAt(left, `truncated event: the header says ${size} bytes, the file has ${left} left`);
        return;
      }
      const off = pos - bufStart;
      if (first) inUse = (buf.readUInt16LE(off + 17) & EventFlag.BINLOG_IN_USE) !== 0;
      const event = decoder.decode(buf.subarray(off, off + size), { file, pos });
      const nextPos = pos + size;
      if (resolver) await followSchemaChanges(decoder, event, resolver);
      yield { file, pos, nextPos, event };
      pos = nextPos;
      if (first) {
        first = false;
        // Always read the FORMAT_DESCRIPTION, then jump to the requested start.
        if (options.startPosition !== undefined && options.startPosition > pos) {
          pos = options.startPosition;
          buf = Buffer.alloc(0);
          bufStart = pos;
          eof = false;
        }
      }
    }
  } finally {
    await fh.close();
  }
}
