import { parseArgs } from 'node:util'
import { UsageError } from '../config.js'
import { WIDE_IPV4_PREFIX, WIDE_IPV6_PREFIX } from '../policy/lint.js'
import { loadPolicy } from '../policy/load.js'
import { withPlaceholderEnv } from '../policy/placeholder-env.js'
import { DEFAULT_USAGE_DB } from '../usage/database.js'
import { openUsageReader, UsageDbError, type UsageReader } from '../usage/reader.js'
import { policyPath, type CommandIo } from './command-io.js'
import { parseDuration } from './duration.js'
import { atLeast, reviewKeys, type ReviewOptions, type Severity } from './review-checks.js'
import { reviewJson, reviewTable } from './review-format.js'

export const REVIEW_HELP = `  review    Check every key of the policy against its usage records; one row per key.
              --policy FILE          (KEYGATE_POLICY, default config/policy.yaml)
              --usage-db FILE        (KEYGATE_USAGE_DB, default ${DEFAULT_USAGE_DB})
              --format table|json    (default table)
              --unused-days N        unused this long: recommend revoking (default 30)
              --expiring-days N      expiring this soon: recommend rotating (default 14)
              --max-lifetime 90d     longest validity a key may have (default 90d)
              --max-addresses N      more source addresses than this: possibly shared (default 3)
              --min-ipv4-prefix N, --min-ipv6-prefix N  wider allowed_ips ranges are flagged
                                     (default ${WIDE_IPV4_PREFIX} and ${WIDE_IPV6_PREFIX})
              --fail-on warning|critical  exit 1 when a key has a finding this severe
`

const OPTIONS = {
  policy: { type: 'string' },
  'usage-db': { type: 'string' },
  format: { type: 'string' },
  'unused-days': { type: 'string' },
  'expiring-days': { type: 'string' },
  'max-lifetime': { type: 'string' },
  'max-addresses': { type: 'string' },
  'min-ipv4-prefix': { type: 'string' },
  'min-ipv6-prefix': { type: 'string' },
  'fail-on': { type: 'string' }
} as const

/** Exit statuses of `review`; errors in the arguments, the policy or the database exit 2. */
export const REVIEW_EXIT = { ok: 0, findings: 1 } as const

/**
 * Runs `review`: loads the policy, opens the usage database read-only on this thread, and
 * prints the checklist of every key. Returns 1 when a key has a finding at least as severe
 * as --fail-on, 0 otherwise.
 */
export async function runReview (args: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({ args, options: OPTIONS })
  const format = values.format ?? 'table'
  if (format !== 'table' && format !== 'json') throw new UsageError(`--format "${format}" is not supported. Use --format table or --format json`)
  const failOn = readFailOn(values['fail-on'])
  const options = readOptions(values, io.now())
  const policyFile = policyPath(values.policy, io.env)
  const usageDb = values['usage-db'] ?? nonEmpty(io.env.KEYGATE_USAGE_DB) ?? DEFAULT_USAGE_DB

  const policy = await loadPolicy(policyFile, { now: options.now, env: withPlaceholderEnv(io.env) })
  const reader = openReader(usageDb)
  try {
    const rows = reviewKeys(policy, reader, options)
    const header = { policyFile, usageDb, recordsStart: reader.createdAt(), now: options.now }
    io.stdout.write(format === 'json' ? JSON.stringify(reviewJson(rows, header), null, 2) + '\n' : reviewTable(rows, header))
    const failing = failOn !== undefined && rows.some((row) => atLeast(row.severity, failOn))
    return failing ? REVIEW_EXIT.findings : REVIEW_EXIT.ok
  } finally {
    reader.close()
  }
}

function readOptions (values: { [K in keyof typeof OPTIONS]?: string }, now: number): ReviewOptions {
  return {
    now,
    unusedDays: wholeNumber(values['unused-days'], 30, '--unused-days'),
    expiringDays: wholeNumber(values['expiring-days'], 14, '--expiring-days'),
    maxLifetimeMs: parseDuration(values['max-lifetime'] ?? '90d', '--max-lifetime'),
    maxAddresses: wholeNumber(values['max-addresses'], 3, '--max-addresses'),
    minIpv4Prefix: wholeNumber(values['min-ipv4-prefix'], WIDE_IPV4_PREFIX, '--min-ipv4-prefix', 32),
    minIpv6Prefix: wholeNumber(values['min-ipv6-prefix'], WIDE_IPV6_PREFIX, '--min-ipv6-prefix', 128)
  }
}

function readFailOn (text: string | undefined): Severity | undefined {
  if (text === undefined || text === 'warning' || text === 'critical') return text
  throw new UsageError(`--fail-on "${text}" is not supported. Use --fail-on warning or --fail-on critical`)
}

function wholeNumber (text: string | undefined, fallback: number, option: string, max = 100_000): number {
  if (text === undefined) return fallback
  if (!/^[0-9]{1,6}$/.test(text) || Number(text) > max) throw new UsageError(`${option} "${text}" is not a whole number from 0 to ${max}`)
  return Number(text)
}

function nonEmpty (text: string | undefined): string | undefined {
  return text === '' ? undefined : text
}

/** Opens the usage database read-only; its errors become usage errors (exit 2) naming the fix. */
export function openReader (path: string): UsageReader {
  try {
    return openUsageReader(path)
  } catch (error) {
    if (error instanceof UsageDbError) throw new UsageError(error.message)
    throw error
  }
}
