/** Classifies errors thrown by `pg`/TypeORM. */
const INTEGRITY = new Set(['23505', '23503', '23502', '23514', '23P01']);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

/** The SQLSTATE (or network error code) of an error thrown by `pg` or wrapped by TypeORM. */
export function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * A statement's own all-or-nothing check refused it: a `chk` CTE divides by zero (SQLSTATE 22012) so that the
 * statement fails, and a COMMIT pipelined behind it answers ROLLBACK (docs/performance.md, "Group commit").
 */
export function isStatementCheckFailure(err: unknown): boolean {
  return sqlState(err) === '22012';
}

/** A unique / foreign-key / not-null / check violation. */
export function isIntegrityError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && INTEGRITY.has(code);
}

export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === '23505';
}

/**
 * An error that may go away if retried: the database is unreachable, restarting, out of connections,
 * or the transaction lost a serialization/deadlock race.
 */
export function isRetryableDbError(err: unknown): boolean {
  const code = sqlState(err);
  if (code === undefined) {
    const message = err instanceof Error ? err.message : '';
    return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|the database system is (starting up|shutting down)/i.test(
      message,
    );
  }
  return (
    NETWORK_CODES.has(code) ||
    code.startsWith('08') || // connection exception
    code === '57P01' || // admin shutdown
    code === '57P02' ||
    code === '57P03' || // cannot connect now
    code === '53300' || // too many connections
    code === '40001' || // serialization failure
    code === '40P01' // deadlock
  );
}

/** A value the database cannot store (SQLSTATE class 22: NUL bytes in text, out-of-range numbers, …). */
export function isDataException(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && code.startsWith('22');
}

/**
 * A value too large for the database to index or store (SQLSTATE class 54, e.g. "index row requires 22912
 * bytes, maximum size is 8191" for a 2 MB name): bad input, not a server fault.
 */
export function isProgramLimitError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && code.startsWith('54');
}

/**
 * Our own words for a value PostgreSQL refused to store (SQLSTATE class 22), never the server's text: it
 * names internals and changes between versions. Bodies are checked before they get here (NUL characters,
 * invalid Unicode); this covers what reaches the database by another way (query strings, path values).
 */
export function dataExceptionDetail(err: unknown): string {
  switch (sqlState(err) ?? '') {
    case '22021': // character_not_in_repertoire: a NUL byte in text
    case '22P05': // untranslatable_character: \u0000 in jsonb
      return 'Invalid request: text must not contain NUL characters (\\u0000).';
    case '22001': // string_data_right_truncation
      return 'Invalid request: a value is too long.';
    case '22003': // numeric_value_out_of_range
      return 'Invalid request: a number is out of range.';
    case '22007': // invalid_datetime_format
    case '22008': // datetime_field_overflow
      return 'Invalid request: a date or time is out of range or malformed.';
    default:
      return 'Invalid request: a value cannot be stored.';
  }
}
