import { ColumnType } from '../../src/binlog/types';

/*
 * Table-map metadata bytes → one meta number per column, written independently of the decoder
 * (src/binlog/table-map.ts) so the value tests check the decoder's convention against a second reading.
 */

/**
 * How a TABLE_MAP event's per-column metadata becomes the single number in `ColumnDef.meta`.
 * This is the convention of MySQL's own log_event.cc (and of mysqlbinlog, which prints the same
 * numbers as "meta=…"), so numbers from either side can be compared:
 * - 2 bytes big-endian (first byte high): STRING (real type << 8 | length), NEWDECIMAL (precision << 8 | scale)
 * - 2 bytes little-endian: VARCHAR / VAR_STRING (max length in bytes), BIT (bytes << 8 | bits % 8)
 * - 1 byte: BLOB family / GEOMETRY / JSON / VECTOR (length-prefix bytes), FLOAT / DOUBLE (pack length),
 *   TIME2 / DATETIME2 / TIMESTAMP2 (fractional second precision)
 * - no byte: every other type (meta 0)
 */
export function columnMetaSize(type: number): number {
  switch (type) {
    case ColumnType.STRING:
    case ColumnType.NEWDECIMAL:
    case ColumnType.VARCHAR:
    case ColumnType.VAR_STRING:
    case ColumnType.BIT:
    case ColumnType.ENUM:
    case ColumnType.SET:
      return 2;
    case ColumnType.BLOB:
    case ColumnType.TINY_BLOB:
    case ColumnType.MEDIUM_BLOB:
    case ColumnType.LONG_BLOB:
    case ColumnType.GEOMETRY:
    case ColumnType.JSON:
    case ColumnType.VECTOR:
    case ColumnType.FLOAT:
    case ColumnType.DOUBLE:
    case ColumnType.TIME2:
    case ColumnType.DATETIME2:
    case ColumnType.TIMESTAMP2:
      return 1;
    default:
      return 0;
  }
}

/**
 * Reads the metadata block of a TABLE_MAP event (after its length prefix) into one number per column,
 * following the convention above. Use it when parsing table maps so that `compileRowImageDecoder`
 * receives the meta numbers it expects.
 */
export function readColumnMetas(types: ArrayLike<number>, buf: Buffer, offset: number): number[] {
  const metas: number[] = new Array(types.length);
  let o = offset;
  for (let i = 0; i < types.length; i++) {
    const t = types[i] as number;
    switch (columnMetaSize(t)) {
      case 2:
        if (t === ColumnType.VARCHAR || t === ColumnType.VAR_STRING || t === ColumnType.BIT) {
          metas[i] = (buf[o] as number) | ((buf[o + 1] as number) << 8);
        } else {
          metas[i] = ((buf[o] as number) << 8) | (buf[o + 1] as number);
        }
        o += 2;
        break;
      case 1:
        metas[i] = buf[o] as number;
        o += 1;
        break;
      default:
        metas[i] = 0;
    }
  }
  return metas;
}
