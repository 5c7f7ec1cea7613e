import { UsageError } from '../config.js'
import { DEFAULT_USAGE_DB, IN_MEMORY } from './database.js'
import { UsageDbError } from './errors.js'
import { DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_RETENTION_DAYS, UsageStore, type UsageStoreOptions } from './store.js'

export interface UsageSettings {
  /** SQLite file; its directory is created when missing. */
  readonly path: string
  readonly flushIntervalMs: number
  readonly retentionDays: number
}

export interface UsageFlags {
  'usage-db'?: string
  'usage-flush-ms'?: string
  'usage-retention-days'?: string
}

/** parseArgs options of `serve` for the usage store. */
export const USAGE_OPTIONS = {
  'usage-db': { type: 'string' },
  'usage-flush-ms': { type: 'string' },
  'usage-retention-days': { type: 'string' }
} as const

export const USAGE_HELP = `              --usage-db FILE        usage records, SQLite (KEYGATE_USAGE_DB, default ${DEFAULT_USAGE_DB})
              --usage-flush-ms MS    how often usage is written (KEYGATE_USAGE_FLUSH_MS, default ${DEFAULT_FLUSH_INTERVAL_MS})
              --usage-retention-days DAYS  how long events and addresses are kept
                                     (KEYGATE_USAGE_RETENTION_DAYS, default ${DEFAULT_RETENTION_DAYS})
`

/** Reads each usage flag, falling back to its environment variable and then its default. */
export function resolveUsageSettings (flags: UsageFlags, env: NodeJS.ProcessEnv): UsageSettings {
  const path = flags['usage-db'] ?? env.KEYGATE_USAGE_DB ?? DEFAULT_USAGE_DB
  if (path === '') throw new UsageError('--usage-db is empty; pass a file such as ./data/usage.sqlite.')
  return {
    path,
    flushIntervalMs: wholeNumber(flags['usage-flush-ms'] ?? env.KEYGATE_USAGE_FLUSH_MS, DEFAULT_FLUSH_INTERVAL_MS, 10, 3_600_000, '--usage-flush-ms'),
    retentionDays: wholeNumber(flags['usage-retention-days'] ?? env.KEYGATE_USAGE_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, 1, 36_500, '--usage-retention-days')
  }
}

function wholeNumber (text: string | undefined, fallback: number, min: number, max: number, option: string): number {
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw new UsageError(`${option} "${text}" is invalid: write a whole number from ${min} to ${max}.`)
  }
  return value
}

/**
 * Opens the usage store of `serve`. Without settings, usage lives in an in-memory database
 * (tests and the demo). A database that cannot be written is a UsageError: exit status 2.
 */
export async function openUsageStore (settings: UsageSettings | undefined, context: Pick<UsageStoreOptions, 'policies' | 'metrics' | 'logger'>): Promise<UsageStore> {
  try {
    return await UsageStore.open({
      path: settings?.path ?? IN_MEMORY,
      flushIntervalMs: settings?.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS,
      retentionDays: settings?.retentionDays ?? DEFAULT_RETENTION_DAYS,
      ...context
    })
  } catch (err) {
    if (err instanceof UsageDbError) throw new UsageError(err.message)
    throw err
  }
}
