export type UsageDbErrorCode = 'cannot_open' | 'not_writable' | 'not_found' | 'schema_too_new' | 'not_a_usage_db'

/** A usage database that cannot be opened, written or read; the message says how to fix it. */
export class UsageDbError extends Error {
  override readonly name = 'UsageDbError'
  readonly code: UsageDbErrorCode

  constructor (code: UsageDbErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

/** SQLite's or the file system's code for an error, such as SQLITE_BUSY or EACCES. */
export function errorCode (err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : String(err)
}
