import { parseArgs } from 'node:util'
import { UsageError } from '../config.js'
import { loadPolicy } from '../policy/load.js'
import { withPlaceholderEnv } from '../policy/placeholder-env.js'
import { parseTimestamp } from '../policy/timestamp.js'
import { DEFAULT_USAGE_DB } from '../usage/database.js'
import { policyPath, type CommandIo } from './command-io.js'
import { parseDuration } from './duration.js'
import { readIncidentData } from './incident-data.js'
import { incidentText } from './incident-format.js'
import { incidentJson } from './incident-json.js'
import { revokeAndConfirm, type Revocation } from './incident-revoke.js'
import { openReader } from './review.js'

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9464'

export const INCIDENT_HELP = `  incident KEY_ID --since TIME [--until TIME] [--revoke --reason TEXT] [--format text|json]
            Report what a key did in a window: addresses, routes, denials, sensitive actions,
            and what to check inside MISP. TIME is RFC 3339 (2026-12-01T00:00:00Z), a date
            (2026-12-01, UTC) or a time ago (48h, 7d). --revoke first marks the key revoked
            in the policy and reports whether the running proxy has reloaded.
              --policy FILE, --usage-db FILE  as for review
              --admin-url URL        the proxy's admin listener (default ${DEFAULT_ADMIN_URL})
`

const OPTIONS = {
  policy: { type: 'string' },
  'usage-db': { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  revoke: { type: 'boolean' },
  reason: { type: 'string' },
  format: { type: 'string' },
  'admin-url': { type: 'string' }
} as const

/**
 * Runs `incident KEY_ID`: with --revoke, revokes the key through the policy writer and
 * checks the proxy's reload first; then prints the report of the window. Returns 0.
 */
export async function runIncident (args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true })
  const keyId = positionals[0]
  if (keyId === undefined || positionals.length > 1) throw new UsageError('Expected one key id. Usage: misp-keygate incident KEY_ID --since TIME [--until TIME] [--revoke --reason TEXT]')
  const now = io.now()
  const window = readWindow(values.since, values.until, now)
  const format = values.format ?? 'text'
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format "${format}" is not supported. Use --format text or --format json`)
  if (values.revoke === true && (values.reason === undefined || values.reason.trim() === '')) throw new UsageError('--revoke needs --reason TEXT, which the policy keeps with the revocation')
  if (values.revoke !== true && values.reason !== undefined) throw new UsageError('--reason is only used with --revoke')
  const policyFile = policyPath(values.policy, io.env)
  const usageDb = values['usage-db'] ?? (io.env.KEYGATE_USAGE_DB || DEFAULT_USAGE_DB)

  const reader = openReader(usageDb)
  try {
    let revocation: Revocation | undefined
    if (values.revoke === true) revocation = await revokeAndConfirm(policyFile, keyId, values.reason as string, now, values['admin-url'] ?? DEFAULT_ADMIN_URL, io.env)
    const policy = await loadPolicy(policyFile, { now, env: withPlaceholderEnv(io.env) })
    const key = policy.keys.find((entry) => entry.id === keyId)
    if (key === undefined && reader.key(keyId) === undefined) {
      throw new UsageError(`No key "${keyId}" in ${policyFile} or in the usage records ${usageDb}. Check the id with misp-keygate keys list`)
    }
    const context = { data: readIncidentData(reader, keyId, key, window.since, window.until), revocation, policyFile, usageDb }
    io.stdout.write(format === 'json' ? JSON.stringify(incidentJson(context), null, 2) + '\n' : incidentText(context))
    return 0
  } finally {
    reader.close()
  }
}

function readWindow (sinceText: string | undefined, untilText: string | undefined, now: number): { since: number, until: number } {
  if (sinceText === undefined) throw new UsageError('--since is required: the start of the window, such as --since 7d or --since 2026-12-01T00:00:00Z')
  const since = parseTime(sinceText, '--since', now)
  const until = untilText === undefined ? now : parseTime(untilText, '--until', now)
  if (since >= until) throw new UsageError(`--since ${sinceText} is not before --until ${untilText ?? 'now'}; the window would be empty`)
  return { since, until }
}

/** Parses RFC 3339 with an offset, a date (midnight UTC), or a duration before `now` such as 48h. */
export function parseTime (text: string, option: string, now: number): number {
  if (/^\d+[mhdw]$/.test(text)) return now - parseDuration(text, option)
  const parsed = parseTimestamp(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text)
  if (!parsed.ok) throw new UsageError(`${option} "${text}" is not a time. Write RFC 3339 such as 2026-12-01T08:00:00Z, a date such as 2026-12-01, or a time ago such as 48h or 7d`)
  return parsed.time
}
