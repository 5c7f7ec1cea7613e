import { parseArgs } from 'node:util'
import { findUnmatchedRules } from '../acl/unmatched.js'
import { UsageError } from '../config.js'
import { keyState } from '../policy/key-state.js'
import { findUnsetUpstreamVariables, lintPolicy, type LintWarning } from '../policy/lint.js'
import { loadPolicy, PolicyLoadError } from '../policy/load.js'
import { withPlaceholderEnv } from '../policy/placeholder-env.js'
import type { Policy } from '../policy/types.js'
import { openUsageReader, UsageDbError, type UsageReader } from '../usage/reader.js'
import { policyPath, type CommandIo } from './command-io.js'
import { parseDuration } from './duration.js'

export const DEFAULT_MAX_LIFETIME = '90d'
export const DEFAULT_UNUSED_DAYS = 30
const DAY_MS = 86_400_000

/** Exit statuses of `policy check`. */
export const CHECK_EXIT = { ok: 0, warnings: 1, errors: 2 } as const

const CHECK_OPTIONS = {
  'max-lifetime': { type: 'string' },
  'usage-db': { type: 'string' },
  'unused-days': { type: 'string' },
  strict: { type: 'boolean' },
  format: { type: 'string' }
} as const

interface CheckReport {
  readonly file: string
  readonly errors: readonly string[]
  /** Problems found, including those not listed in `errors`. */
  readonly errorCount: number
  readonly warnings: readonly LintWarning[]
}

/**
 * Runs `policy check [FILE]`: the schema first (errors, exit 2), then the hygiene
 * checklist as warnings naming the key (exit 1 with --strict, else 0).
 */
export async function runPolicyCheck (args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: CHECK_OPTIONS })
  if (positionals.length > 1) throw new UsageError(`Expected at most one policy file, got ${positionals.length}. Usage: misp-keygate policy check [FILE] [--strict]`)
  const file = positionals[0] ?? policyPath(undefined, io.env)
  const maxLifetimeMs = parseDuration(values['max-lifetime'] ?? DEFAULT_MAX_LIFETIME, '--max-lifetime')
  const unusedDays = readUnusedDays(values['unused-days'])
  const format = values.format ?? 'text'
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format "${format}" is not supported. Use --format text or --format json`)

  const report = await checkPolicy(file, io.now(), io.env, { maxLifetimeMs, usageDb: values['usage-db'], unusedDays })
  io.stdout.write(format === 'json' ? JSON.stringify(reportJson(report), null, 2) + '\n' : reportText(report))
  if (report.errors.length > 0) return CHECK_EXIT.errors
  return values.strict === true && report.warnings.length > 0 ? CHECK_EXIT.warnings : CHECK_EXIT.ok
}

function readUnusedDays (text: string | undefined): number {
  if (text === undefined) return DEFAULT_UNUSED_DAYS
  if (!/^[1-9][0-9]{0,4}$/.test(text)) throw new UsageError(`--unused-days "${text}" is not a whole number of days. Write it like --unused-days 30`)
  return Number(text)
}

async function checkPolicy (file: string, now: number, env: NodeJS.ProcessEnv, options: { maxLifetimeMs: number, usageDb: string | undefined, unusedDays: number }): Promise<CheckReport> {
  let policy: Policy
  try {
    policy = await loadPolicy(file, { now, env: withPlaceholderEnv(env) })
  } catch (error) {
    if (!(error instanceof PolicyLoadError)) throw error
    const errors = error.problems.map((problem) => problem.message)
    const unlisted = error.problemCount - errors.length
    if (unlisted > 0) errors.push(`${unlisted} more problems are not listed. Fix the ones above and run the check again`)
    return { file, errors, errorCount: error.problemCount, warnings: [] }
  }

  const warnings = [
    ...lintPolicy(policy, { now, maxLifetimeMs: options.maxLifetimeMs }),
    ...findUnsetUpstreamVariables(policy),
    ...findUnmatchedRules(policy).map((rule) => ({ keyId: undefined, check: 'unmatched_rule', message: rule.message }))
  ]
  if (options.usageDb !== undefined) warnings.push(...findUnusedKeys(policy, options.usageDb, now, options.unusedDays))
  return { file, errors: [], errorCount: 0, warnings }
}

/** Warns about keys in use with no forwarded request for `unusedDays`, from the usage database. */
function findUnusedKeys (policy: Policy, path: string, now: number, unusedDays: number): LintWarning[] {
  const reader = openReader(path)
  try {
    const since = now - unusedDays * DAY_MS
    const recordsStart = reader.createdAt()
    const warnings: LintWarning[] = []
    for (const key of policy.keys) {
      const state = keyState(key, now)
      if (state === 'revoked' || state === 'expired' || state === 'not yet valid') continue
      const message = describeUnused(reader, key.id, since, recordsStart, unusedDays)
      if (message !== undefined) warnings.push({ keyId: key.id, check: 'long_unused', message })
    }
    return warnings
  } finally {
    reader.close()
  }
}

function openReader (path: string): UsageReader {
  try {
    return openUsageReader(path)
  } catch (error) {
    if (error instanceof UsageDbError) throw new UsageError(`--usage-db: ${error.message}`)
    throw error
  }
}

function describeUnused (reader: UsageReader, keyId: string, since: number, recordsStart: number, unusedDays: number): string | undefined {
  const lastAllowed = reader.key(keyId)?.lastAllowed
  if (lastAllowed !== undefined) {
    if (lastAllowed >= since) return undefined
    return `has not been used for ${unusedDays} days or more (last forwarded request at ${new Date(lastAllowed).toISOString()}). Revoke it if the integration is gone`
  }
  // A database younger than the window cannot show that a key is unused.
  if (recordsStart > since) return undefined
  return `has no forwarded request in the usage records, which start at ${new Date(recordsStart).toISOString()}. Revoke it if the integration is gone; ignore this for a key added recently`
}

function reportText (report: CheckReport): string {
  const lines = [
    ...report.errors.map((message) => `error: ${message}`),
    ...report.warnings.map((warning) => `warning: ${warning.keyId === undefined ? '' : `key "${warning.keyId}" `}${warning.message} [${warning.check}]`)
  ]
  const summary = report.errors.length > 0
    ? `${report.file}: ${report.errorCount} error(s): the proxy will not load this policy`
    : `${report.file}: valid, ${report.warnings.length} warning(s)`
  return [...lines, summary].join('\n') + '\n'
}

function reportJson (report: CheckReport): Record<string, unknown> {
  return {
    file: report.file,
    valid: report.errors.length === 0,
    errors: report.errors,
    warnings: report.warnings.map((warning) => ({ key_id: warning.keyId ?? null, check: warning.check, message: warning.message }))
  }
}
