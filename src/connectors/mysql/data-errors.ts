/**
 * MySQL/MariaDB errors that say a ROW cannot be written as it is — retrying the same statement fails
 * the same way. The SQL state classes are the standard's: 22 (data exception: too long, out of range,
 * bad date) and 23 (integrity constraint: NULL in a NOT NULL column, a duplicate unique key, a foreign
 * key). A few strict-mode conversions carry the generic state HY000/01000, so they are listed by number.
 */
const DATA_ERRNOS = new Set([
  1048, // ER_BAD_NULL_ERROR
  1062, // ER_DUP_ENTRY
  1264, // ER_WARN_DATA_OUT_OF_RANGE
  1265, // WARN_DATA_TRUNCATED
  1292, // ER_TRUNCATED_WRONG_VALUE
  1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
  1406, // ER_DATA_TOO_LONG
  1451, // ER_ROW_IS_REFERENCED_2
  1452, // ER_NO_REFERENCED_ROW_2
  3140, // ER_INVALID_JSON_TEXT (MySQL)
  4025, // ER_CONSTRAINT_FAILED (MariaDB CHECK)
  3819, // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
]);

export function isMysqlDataError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const { errno, sqlState } = err as { errno?: unknown; sqlState?: unknown };
  if (typeof errno === 'number' && DATA_ERRNOS.has(errno)) return true;
  return typeof sqlState === 'string' && (sqlState.startsWith('22') || sqlState.startsWith('23'));
}
