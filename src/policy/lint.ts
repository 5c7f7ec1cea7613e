import { digestKey } from '../digest.js'
import { keyState } from './key-state.js'
import { appendAll } from './fields.js'
import { unsetVariableName } from './placeholder-env.js'
import type { KeyEntry, Policy } from './types.js'

/** One hygiene finding: a warning about a key (or the whole policy when keyId is undefined). */
export interface LintWarning {
  readonly keyId: string | undefined
  /** Stable name of the check, such as `no_expiry`. */
  readonly check: string
  readonly message: string
}

export interface LintOptions {
  /** Milliseconds since the epoch. */
  readonly now: number
  /** Maximum validity of a key, in milliseconds. */
  readonly maxLifetimeMs: number
}

/** IPv4 ranges shorter than /16 (65,536 addresses) and IPv6 ranges shorter than /32 (a regional registry's allocation to an operator) are very wide. */
export const WIDE_IPV4_PREFIX = 16
export const WIDE_IPV6_PREFIX = 32
const DAY_MS = 86_400_000

/**
 * The keys of the example policy shipped in config/policy.example.yaml. They are public,
 * so a policy that accepts one of their digests accepts a key anyone can read.
 */
const PUBLIC_EXAMPLE_KEYS = [
  'ExampleSiemPullKeyDoNotUseInProduction01',
  'ExampleIngestKeyDoNotUseInProduction0002',
  'ExampleExpiredKeyDoNotUseInProduction003'
]
const PUBLIC_EXAMPLE_DIGESTS = new Set(PUBLIC_EXAMPLE_KEYS.map(digestKey))

type KeyCheck = (key: KeyEntry, options: LintOptions) => string | undefined

/** The per-key checks of a key in use (not revoked, not expired), by check name. */
const KEY_CHECKS: Readonly<Record<string, KeyCheck>> = {
  no_expiry: (key) => key.expires === undefined
    ? 'has no expiry, so a leaked copy works until someone notices. Set expires, or rotate it with misp-keygate keys rotate'
    : undefined,
  lifetime_over_max: checkLifetime,
  allowed_anywhere: (key) => key.allowedIps.anywhere
    ? 'may be used from any address (allowed_ips contains 0.0.0.0/0 or ::/0). List the addresses of the integration instead'
    : undefined,
  wide_range: checkWideRanges,
  read_write_without_profile: (key) => !key.readOnly && key.profile === undefined
    ? 'is read-write without a profile, so it may call every write route of MISP. Give it a profile that lists the routes it needs'
    : undefined,
  sensitive_allowed: (key) => key.allowSensitive.size > 0
    ? `may call sensitive routes (allow_sensitive: ${[...key.allowSensitive].join(', ')}). Keep this only for keys that must administer MISP`
    : undefined,
  swap_key_exposed: checkSwapKeyExposed,
  missing_account_label: (key) => key.labels.account === undefined
    ? 'has no account label, so usage reviews cannot tie it to the MISP account it acts as. Add labels: { account: NAME }'
    : undefined,
  public_example_key: (key) => PUBLIC_EXAMPLE_DIGESTS.has(key.hash)
    ? 'has the digest of a public example key from config/policy.example.yaml, which anyone can read. Replace it with a new key (misp-keygate keys rotate)'
    : undefined
}

/** Runs the hygiene checklist on a loaded policy. Revoked keys are records and get no warning. */
export function lintPolicy (policy: Policy, options: LintOptions): LintWarning[] {
  const warnings: LintWarning[] = []
  for (const key of policy.keys) {
    const state = keyState(key, options.now)
    if (state === 'revoked') continue
    if (state === 'expired') {
      warnings.push({ keyId: key.id, check: 'expired_not_revoked', message: `expired at ${iso(key.expires)} but is not revoked. Check with misp-keygate review that nobody still tries it, then run misp-keygate keys revoke ${key.id} --reason expired` })
      continue
    }
    for (const [check, run] of Object.entries(KEY_CHECKS)) {
      const message = run(key, options)
      if (message !== undefined) warnings.push({ keyId: key.id, check, message })
    }
  }
  appendAll(warnings, findSharedUpstreamKeys(policy.keys, options.now))
  return warnings
}

/**
 * Sensitive categories whose MISP pages can hand the client a MISP key of the calling
 * account, which in swap mode is the upstream key: auth key and user pages, and
 * servers/createSync, which returns the account's key or creates one.
 */
const KEY_SHOWING_CATEGORIES = ['auth_keys', 'users', 'sync_servers'] as const

function checkSwapKeyExposed (key: KeyEntry): string | undefined {
  if (key.upstreamKey === undefined) return undefined
  const exposing = KEY_SHOWING_CATEGORIES.filter((category) => key.allowSensitive.has(category))
  if (exposing.length === 0) return undefined
  return `is in swap mode but may call ${exposing.join(' and ')} routes (allow_sensitive), whose MISP pages can return the upstream key to the client, which undoes swap mode. Remove ${exposing.join(' and ')} from allow_sensitive, or give the integration its own MISP key`
}

function checkLifetime (key: KeyEntry, options: LintOptions): string | undefined {
  if (key.expires === undefined) return undefined
  // The file does not record when a key was made, so the lifetime counts from not_before, or else from now.
  const start = key.notBefore ?? options.now
  const lifetime = key.expires - start
  if (lifetime <= options.maxLifetimeMs) return undefined
  const from = key.notBefore === undefined ? 'from now' : `from not_before ${iso(key.notBefore)}`
  return `expires at ${iso(key.expires)}, ${Math.round(lifetime / DAY_MS)} days ${from}, longer than the maximum lifetime of ${Math.round(options.maxLifetimeMs / DAY_MS)} days. Rotate it sooner`
}

function checkWideRanges (key: KeyEntry): string | undefined {
  const wide = key.allowedIps.entries.filter((entry) => isWideRange(entry))
  if (wide.length === 0) return undefined
  return `allows very wide address ranges (${wide.join(', ')}: IPv4 wider than /${WIDE_IPV4_PREFIX} or IPv6 wider than /${WIDE_IPV6_PREFIX}). Narrow allowed_ips to the integration's own addresses`
}

/** Returns whether a canonical range such as `10.0.0.0/8` is very wide but not the whole address space. */
export function isWideRange (entry: string): boolean {
  const prefixLength = Number(entry.slice(entry.lastIndexOf('/') + 1))
  if (prefixLength === 0) return false
  return prefixLength < (entry.includes(':') ? WIDE_IPV6_PREFIX : WIDE_IPV4_PREFIX)
}

/**
 * Finds keys in use that send MISP the same upstream key without being related by
 * rotation (`replaces`): MISP then cannot tell their requests apart.
 */
function findSharedUpstreamKeys (keys: readonly KeyEntry[], now: number): LintWarning[] {
  const families = rotationFamilies(keys)
  const byUpstream = new Map<string, KeyEntry[]>()
  for (const key of keys) {
    const state = keyState(key, now)
    if (key.upstreamKey === undefined || state === 'revoked' || state === 'expired') continue
    byUpstream.set(key.upstreamKey, [...(byUpstream.get(key.upstreamKey) ?? []), key])
  }

  const warnings: LintWarning[] = []
  for (const sharing of byUpstream.values()) {
    for (const key of sharing) {
      const unrelated = sharing.filter((other) => families.get(other.id) !== families.get(key.id)).map((other) => other.id)
      if (unrelated.length === 0) continue
      warnings.push({ keyId: key.id, check: 'shared_upstream_key', message: `sends MISP the same upstream key as ${unrelated.map((id) => `"${id}"`).join(', ')}, which it does not replace and is not replaced by, so MISP's logs cannot tell them apart. Give each integration its own MISP key` })
    }
  }
  return warnings
}

/** Maps each key id to the id of the first key of its rotation chain. */
function rotationFamilies (keys: readonly KeyEntry[]): Map<string, string> {
  const parent = new Map<string, string>()
  const find = (id: string): string => {
    let root = id
    while (parent.has(root) && parent.get(root) !== root) root = parent.get(root) as string
    return root
  }
  for (const key of keys) parent.set(key.id, key.id)
  for (const key of keys) {
    if (key.replaces !== undefined && parent.has(key.replaces)) parent.set(find(key.id), find(key.replaces))
  }
  return new Map(keys.map((key) => [key.id, find(key.id)]))
}

/** Warns about each key whose `env:` upstream key variable this process does not set. */
export function findUnsetUpstreamVariables (policy: Policy): LintWarning[] {
  const warnings: LintWarning[] = []
  for (const key of policy.keys) {
    const name = unsetVariableName(key.upstreamKey)
    if (name === undefined || key.revoked !== undefined) continue
    warnings.push({ keyId: key.id, check: 'upstream_variable_unset', message: `reads its upstream key from environment variable ${name}, which is not set here. Make sure the proxy's environment sets it, or the proxy will not start` })
  }
  return warnings
}

function iso (time: number | undefined): string {
  return time === undefined ? '-' : new Date(time).toISOString()
}
