/**
 * Thrown for every binlog input the decoder cannot decode exactly: damage (CRC mismatch,
 * truncated event, wrong magic number), events we refuse (partial JSON, encrypted binlogs) and
 * schema disagreements. Carries where it happened so an operator can find the event with
 * `mariadb-binlog --start-position`.
 */
export class BinlogDecodeError extends Error {
  override readonly name = 'BinlogDecodeError';
  /** Binlog file name, when known. */
  readonly file: string | undefined;
  /** Offset of the damaged or refused event in that file, when known. */
  readonly position: number | undefined;
  /** What is wrong, without the location. */
  readonly reason: string;

  constructor(reason: string, where: { file?: string; pos?: number } = {}) {
    const at =
      where.file !== undefined || where.pos !== undefined
        ? ` (at ${where.file ?? '?'}${where.pos !== undefined ? `:${where.pos}` : ''})`
        : '';
    super(`${reason}${at}`);
    this.reason = reason;
    this.file = where.file;
    this.position = where.pos;
  }
}
