import type { CellValue, RowImage, TableSchema } from '../types';
import { ColumnType } from '../types';
import { applyJsonDiffs, readJsonDiffs } from './json-diff';
import type { RowImageDecoder } from './row-image';
import { compileValueReader } from './row-image';

/** Row-value option bit of a PARTIAL_UPDATE_ROWS after image: JSON columns may hold diffs. */
const PARTIAL_JSON_UPDATES = 1;

/**
 * Decodes the after images of a PARTIAL_UPDATE_ROWS event (binlog_row_value_options=PARTIAL_JSON).
 * Each after image starts with its value options (a packed integer) and, when partial JSON is on,
 * a bitmap with one bit per JSON column of the table (present or not); a JSON column whose bit is
 * set holds a list of diffs, applied here to the row's before value so that the image carries the
 * whole document, as a full after image would.
 */
export interface PartialAfterImageDecoder {
  decode(buf: Buffer, offset: number, present: Buffer, before: RowImage, out: RowImage): number;
}

function packedAt(buf: Buffer, o: number): [number, number] {
  const first = buf[o];
  if (first === undefined) throw new RangeError('truncated row value options');
  if (first < 251) return [first, o + 1];
  const size = first === 0xfc ? 2 : first === 0xfd ? 3 : 8;
  return [size === 8 ? Number(buf.readBigUInt64LE(o + 1)) : buf.readUIntLE(o + 1, size), o + 1 + size];
}

export function compilePartialAfterImage(
  table: TableSchema,
  full: RowImageDecoder,
): PartialAfterImageDecoder {
  const cols = table.columns;
  const jsonCount = cols.filter((c) => c.type === ColumnType.JSON).length;
  const partialBytes = (jsonCount + 7) >> 3;
  let readers: Array<(buf: Buffer, o: number) => [CellValue, number]> | undefined;
  const where = `${table.schema}.${table.table}`;

  return {
    decode(buf, offset, present, before, out) {
      const [options, afterOptions] = packedAt(buf, offset);
      let o = afterOptions;
      if ((options & PARTIAL_JSON_UPDATES) === 0) return full.decode(buf, o, present, out);
      const partial = buf.subarray(o, o + partialBytes);
      o += partialBytes;
      if (partial.every((b) => b === 0)) return full.decode(buf, o, present, out);
      readers ??= cols.map((c) => compileValueReader(c));
      let count = 0;
      for (let i = 0; i < cols.length; i++) if (((present[i >> 3] ?? 0) & (1 << (i & 7))) !== 0) count++;
      const nullBase = o;
      o += (count + 7) >> 3;
      let k = 0;
      let j = 0;
      for (let i = 0; i < cols.length; i++) {
        const col = cols[i]!;
        const isJson = col.type === ColumnType.JSON;
        const isDiff = isJson && ((partial[j >> 3] ?? 0) & (1 << (j & 7))) !== 0;
        if (isJson) j++;
        if (((present[i >> 3] ?? 0) & (1 << (i & 7))) === 0) {
          out[i] = undefined;
          continue;
        }
        const isNull = ((buf[nullBase + (k >> 3)] ?? 0) & (1 << (k & 7))) !== 0;
        k++;
        if (isNull) {
          out[i] = null;
          continue;
        }
        if (!isDiff) {
          [out[i], o] = readers[i]!(buf, o);
          continue;
        }
        const lengthBytes = col.meta || 4;
        const n = buf.readUIntLE(o, lengthBytes);
        o += lengthBytes;
        if (o + n > buf.length) throw new RangeError('truncated JSON diff');
        const previous = before[i];
        if (typeof previous !== 'string')
          throw new Error(
            `column ${col.name || `@${i + 1}`} of ${where}: a partial JSON update needs the column's before value, which the binlog does not carry (binlog_row_image=MINIMAL); set binlog_row_image to FULL or NOBLOB, or binlog_row_value_options to '' on the source`,
          );
        out[i] = applyJsonDiffs(previous, readJsonDiffs(buf, o, o + n));
        o += n;
      }
      return o;
    },
  };
}
