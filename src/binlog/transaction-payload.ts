import { decompress as zstdDecompress } from 'fzstd';
import { ShortEventError } from './byte-cursor';
import { BinlogDecodeError } from './errors';
import type { EventPosition } from './events';

/**
 * The body of a MySQL 8 TRANSACTION_PAYLOAD event (binlog_transaction_compression): a few
 * (type, length, value) fields — payload size, compression type, uncompressed size — then the
 * payload, zstd-compressed (type 0) or stored (255). Returns the compression type and the inner
 * events' bytes.
 */
export function unpackTransactionPayload(
  buf: Buffer,
  start: number,
  end: number,
  position: EventPosition | undefined,
): { compression: number; inner: Buffer } {
  let off = start;
  const readPacked = (): number => {
    const first = buf[off++];
    if (first === undefined || off > end) throw new ShortEventError(1, 0);
    if (first < 251) return first;
    const size = first === 0xfc ? 2 : first === 0xfd ? 3 : 8;
    const v = size === 8 ? Number(buf.readBigUInt64LE(off)) : buf.readUIntLE(off, size);
    off += size;
    return v;
  };
  let compression = 0;
  let uncompressedSize = 0;
  let payloadSize: number | undefined;
  for (;;) {
    const fieldType = readPacked();
    if (fieldType === 0) break;
    const length = readPacked();
    const fieldEnd = off + length;
    if (fieldType === 1) payloadSize = readPacked();
    else if (fieldType === 2) compression = readPacked();
    else if (fieldType === 3) uncompressedSize = readPacked();
    off = fieldEnd;
  }
  const payload = buf.subarray(off, payloadSize === undefined ? end : off + payloadSize);
  if (off + payload.length > end) throw new ShortEventError(payload.length, end - off);
  let inner: Buffer;
  if (compression === 0) {
    const out = zstdDecompress(new Uint8Array(payload.buffer, payload.byteOffset, payload.length));
    inner = Buffer.from(out.buffer, out.byteOffset, out.length);
  } else if (compression === 255) inner = payload;
  else
    throw new BinlogDecodeError(
      `unsupported transaction payload compression type ${compression}`,
      position ?? {},
    );
  if (uncompressedSize && inner.length !== uncompressedSize)
    throw new BinlogDecodeError(
      `transaction payload decompressed to ${inner.length} bytes, its header says ${uncompressedSize}`,
      position ?? {},
    );
  return { compression, inner };
}
