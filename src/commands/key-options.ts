import { UsageError } from '../config.js'
import { parseCidr } from '../net/address.js'
import { KEY_ID_PATTERN } from '../policy/schema.js'
import { parseTimestamp } from '../policy/timestamp.js'
import { parseUpstreamReference } from '../policy/upstream.js'
import { formatTimestamp } from '../policy/writer.js'
import { formatDuration, parseDuration } from './duration.js'

/** Lifetime of a new key when no expiry option is given. */
export const DEFAULT_TTL_MS = 30 * 86_400_000

/** Options of `keys create` and `keys import`, for node:util parseArgs. */
export const NEW_KEY_OPTIONS = {
  policy: { type: 'string' },
  id: { type: 'string' },
  owner: { type: 'string' },
  purpose: { type: 'string' },
  ttl: { type: 'string' },
  expires: { type: 'string' },
  'no-expiry': { type: 'boolean' },
  'allow-ip': { type: 'string', multiple: true },
  'upstream-key': { type: 'string' },
  'read-write': { type: 'boolean' },
  profile: { type: 'string' },
  label: { type: 'string', multiple: true }
} as const

/** Options of `keys rotate` that set the successor's expiry. */
export const EXPIRY_OPTIONS = {
  ttl: { type: 'string' },
  expires: { type: 'string' },
  'no-expiry': { type: 'boolean' }
} as const

export interface ExpiryFlags {
  ttl?: string
  expires?: string
  'no-expiry'?: boolean
}

/** Returns a flag that must be present and not blank. */
export function requireFlag (value: string | undefined, flag: string, example: string): string {
  if (value === undefined || value.trim() === '') throw new UsageError(`${flag} is missing. Add it, for example ${flag} ${example}`)
  return value
}

export function readKeyId (value: string | undefined, flag: string): string {
  const id = requireFlag(value, flag, 'siem-pull')
  if (!KEY_ID_PATTERN.test(id)) {
    throw new UsageError(`${flag} ${JSON.stringify(id)} is not a valid key id. Use a lowercase letter or digit followed by up to 63 of a-z, 0-9, ".", "_" and "-"`)
  }
  return id
}

/**
 * Reads --ttl, --expires or --no-expiry (at most one) and returns the expiry in
 * milliseconds since the epoch, or undefined for --no-expiry. Without any, the key
 * expires after DEFAULT_TTL_MS.
 */
export function readExpiry (flags: ExpiryFlags, now: number): number | undefined {
  const given = (['ttl', 'expires', 'no-expiry'] as const).filter((name) => flags[name] !== undefined)
  if (given.length > 1) throw new UsageError(`--${given.join(' and --')} cannot be combined. Give one of --ttl, --expires and --no-expiry`)
  if (flags['no-expiry'] === true) return undefined
  if (flags.expires !== undefined) return readFutureTime(flags.expires, now)
  return now + (flags.ttl === undefined ? DEFAULT_TTL_MS : parseDuration(flags.ttl, '--ttl'))
}

function readFutureTime (text: string, now: number): number {
  const parsed = parseTimestamp(text)
  if (!parsed.ok) throw new UsageError(`--expires: ${parsed.message}`)
  if (parsed.time <= now) throw new UsageError(`--expires ${text} is not in the future. Give a later time, or a lifetime with --ttl such as --ttl ${formatDuration(DEFAULT_TTL_MS)}`)
  return parsed.time
}

/** Reads every --allow-ip (each may hold a comma-separated list) and checks each entry. */
export function readAllowedIps (values: readonly string[] | undefined): string[] {
  const entries = (values ?? []).flatMap((value) => value.split(',')).map((entry) => entry.trim()).filter((entry) => entry !== '')
  if (entries.length === 0) {
    throw new UsageError('--allow-ip is missing. Give the addresses the key may be used from, such as --allow-ip 192.0.2.10 --allow-ip 198.51.100.0/24. To allow any address, write --allow-ip 0.0.0.0/0,::/0 out')
  }
  for (const entry of entries) {
    const parsed = parseCidr(entry)
    if (!parsed.ok) throw new UsageError(`--allow-ip: ${parsed.message}`)
  }
  return entries
}

/** Reads --upstream-key: env:NAME or file:PATH. The value is not repeated back, since it may be a pasted key. */
export function readUpstreamKey (value: string | undefined): string {
  const text = requireFlag(value, '--upstream-key', 'env:MISP_KEY_SIEM')
  if (parseUpstreamReference(text) === undefined) {
    throw new UsageError('--upstream-key must be env:NAME (an environment variable of the proxy) or file:PATH (a file that contains the MISP key). Never give the key itself')
  }
  return text
}

/** Reads every --label NAME=VALUE into a mapping. */
export function readLabels (values: readonly string[] | undefined): Record<string, string> {
  const labels: Record<string, string> = {}
  for (const value of values ?? []) {
    const equals = value.indexOf('=')
    if (equals <= 0) throw new UsageError(`--label ${JSON.stringify(value)} is not NAME=VALUE. Write it like --label account=svc-siem`)
    labels[value.slice(0, equals)] = value.slice(equals + 1)
  }
  return labels
}

/** Returns the only positional argument; `usage` shows the expected form. */
export function onePositional (positionals: readonly string[], usage: string): string {
  if (positionals.length !== 1) throw new UsageError(`Expected one key id, got ${positionals.length}. Usage: misp-keygate ${usage}`)
  return positionals[0] as string
}

export function describeExpiry (expires: number | undefined): string {
  return expires === undefined ? 'no expiry' : `expires ${formatTimestamp(expires)}`
}
