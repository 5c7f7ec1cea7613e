import { parseIpAddress } from '../net/ip.js'
import { keyState, type KeyState } from '../policy/key-state.js'
import type { KeyEntry, Policy } from '../policy/types.js'
import type { AddressRecord, KeyUsageRecord, UsageReader } from '../usage/reader.js'

const DAY_MS = 86_400_000

export type Severity = 'ok' | 'info' | 'warning' | 'critical'

/** The checklist of `review`, in the order of the table columns. */
export const CHECKS = ['documented', 'account', 'read_only', 'ephemeral', 'restricted', 'not_shared', 'in_use', 'rotation'] as const
export type CheckName = typeof CHECKS[number]

export interface CheckResult {
  readonly severity: Severity
  /** Finding and recommended action; empty for a plain pass. */
  readonly message: string
}

export interface ReviewOptions {
  /** Milliseconds since the epoch. */
  readonly now: number
  readonly unusedDays: number
  readonly expiringDays: number
  /** Maximum validity of a key, in milliseconds. */
  readonly maxLifetimeMs: number
  /** Shortest allowed prefix lengths: wider ranges are flagged. */
  readonly minIpv4Prefix: number
  readonly minIpv6Prefix: number
  /** More distinct source addresses than this flags a key as possibly shared. */
  readonly maxAddresses: number
}

export interface ReviewRow {
  readonly key: KeyEntry
  readonly state: KeyState
  readonly usage: KeyUsageRecord | undefined
  readonly checks: Readonly<Record<CheckName, CheckResult>>
  /** The worst severity of the checks: ok, warning or critical. */
  readonly severity: Severity
}

const SEVERITY_ORDER: readonly Severity[] = ['ok', 'info', 'warning', 'critical']

/** The facts a check reads besides the key itself. */
interface KeyFacts {
  readonly key: KeyEntry
  readonly state: KeyState
  readonly usage: KeyUsageRecord | undefined
  readonly addresses: readonly AddressRecord[]
  readonly policy: Policy
  readonly reader: UsageReader
  /** When the usage records start: nothing older can be known. */
  readonly recordsStart: number
  readonly options: ReviewOptions
}

type Check = (facts: KeyFacts) => CheckResult

/** The checks that still apply to a revoked or expired key, which the policy keeps as a record. */
const AFTER_END_CHECKS: ReadonlySet<CheckName> = new Set(['ephemeral', 'in_use'])

const OK: CheckResult = Object.freeze({ severity: 'ok', message: '' })
const NOT_APPLICABLE: CheckResult = Object.freeze({ severity: 'info', message: '' })

/** Reviews every key of the policy against its usage records. */
export function reviewKeys (policy: Policy, reader: UsageReader, options: ReviewOptions): ReviewRow[] {
  const recordsStart = reader.createdAt()
  return policy.keys.map((key) => {
    const facts: KeyFacts = {
      key,
      state: keyState(key, options.now),
      usage: reader.key(key.id),
      addresses: reader.addresses(key.id),
      policy,
      reader,
      recordsStart,
      options
    }
    const ended = facts.state === 'revoked' || facts.state === 'expired'
    const checks = Object.fromEntries(CHECKS.map((name) => [name, ended && !AFTER_END_CHECKS.has(name) ? NOT_APPLICABLE : CHECK_FUNCTIONS[name](facts)])) as Record<CheckName, CheckResult>
    const severity = worst(Object.values(checks).map((check) => check.severity))
    return { key, state: facts.state, usage: facts.usage, checks, severity: severity === 'info' ? 'ok' : severity }
  })
}

export function worst (severities: readonly Severity[]): Severity {
  return severities.reduce<Severity>((a, b) => SEVERITY_ORDER.indexOf(b) > SEVERITY_ORDER.indexOf(a) ? b : a, 'ok')
}

export function atLeast (severity: Severity, threshold: Severity): boolean {
  return SEVERITY_ORDER.indexOf(severity) >= SEVERITY_ORDER.indexOf(threshold)
}

const CHECK_FUNCTIONS: Readonly<Record<CheckName, Check>> = {
  documented: checkDocumented,
  account: checkAccount,
  read_only: checkReadOnly,
  ephemeral: checkEphemeral,
  restricted: checkRestricted,
  not_shared: checkNotShared,
  in_use: checkInUse,
  rotation: checkRotation
}

/** Words that fill a field without documenting anything. */
const PLACEHOLDERS = /^(?:todo|tbd|test|none|n\/a|unknown|x+|-+|\?+|\.+)$/i

function checkDocumented ({ key }: KeyFacts): CheckResult {
  const empty = (['owner', 'purpose'] as const).filter((field) => key[field].trim() === '' || PLACEHOLDERS.test(key[field].trim()))
  if (empty.length === 0) return OK
  return warning(`${empty.join(' and ')} ${empty.length === 1 ? 'is' : 'are'} a placeholder. Write who answers for the key and what it is for`)
}

function checkAccount ({ key, policy, options }: KeyFacts): CheckResult {
  const account = key.labels.account
  if (account === undefined) return warning('no account label: add labels: { account: NAME } naming the MISP account the key acts as')
  const family = rotationFamily(policy, key.id)
  const sharing = policy.keys.filter((other) => other.labels.account === account && !family.has(other.id) && isLive(other, options.now))
  if (sharing.length === 0 || !isLive(key, options.now)) return OK
  return warning(`MISP account "${account}" is also used by ${sharing.map((other) => `"${other.id}"`).join(', ')}. Give each integration its own MISP account`)
}

function checkReadOnly ({ key, usage, state, recordsStart }: KeyFacts): CheckResult {
  if (!isLiveState(state)) return NOT_APPLICABLE
  if (key.readOnly) return OK
  if (usage?.lastAllowed === undefined) return { severity: 'info', message: 'read-write' }
  if (usage.lastWrite !== undefined) return { severity: 'info', message: `read-write, last write ${day(usage.lastWrite)}` }
  return warning(`read-write, but no forwarded request since ${day(recordsStart)} was a write. Set read_only: true`)
}

function checkEphemeral ({ key, state, policy, options }: KeyFacts): CheckResult {
  if (state === 'revoked') return NOT_APPLICABLE
  if (state === 'expired') return warning(`expired at ${iso(key.expires)} but not revoked. Revoke it: misp-keygate keys revoke ${key.id} --reason expired`)
  const successor = policy.keys.find((other) => other.replaces === key.id && isLive(other, options.now))
  if (key.expires === undefined) return warning(`no expiry. ${successor === undefined ? 'Set expires, or rotate it with misp-keygate keys rotate' : moveThenRevoke(key, successor)}`)
  // The policy does not record when a key was made, so the lifetime counts from not_before, or else from now.
  const lifetime = key.expires - (key.notBefore ?? options.now)
  if (lifetime > options.maxLifetimeMs) {
    return warning(`valid for ${Math.round(lifetime / DAY_MS)} days, over the maximum of ${Math.round(options.maxLifetimeMs / DAY_MS)}. ${successor === undefined ? 'Rotate it sooner' : moveThenRevoke(key, successor)}`)
  }
  const left = key.expires - options.now
  if (left > options.expiringDays * DAY_MS) return OK
  return warning(`expires ${iso(key.expires)}, in ${days(left)}. ${successor === undefined ? `Rotate it: misp-keygate keys rotate ${key.id}` : moveThenRevoke(key, successor)}`)
}

/** Advice for a key that a rotation already succeeded: a second rotation would add a second successor. */
function moveThenRevoke (key: KeyEntry, successor: KeyEntry): string {
  return `Successor "${successor.id}" exists: move the integration, then revoke: misp-keygate keys revoke ${key.id} --reason "rotated to ${successor.id}"`
}

function checkRestricted ({ key, options }: KeyFacts): CheckResult {
  if (key.allowedIps.anywhere) return warning('allowed from anywhere. List the addresses of the integration in allowed_ips')
  const wide = key.allowedIps.entries.filter((entry) => {
    const prefixLength = Number(entry.slice(entry.lastIndexOf('/') + 1))
    return prefixLength < (entry.includes(':') ? options.minIpv6Prefix : options.minIpv4Prefix)
  })
  if (wide.length === 0) return OK
  return warning(`wide ranges ${wide.join(', ')} (IPv4 wider than /${options.minIpv4Prefix}, IPv6 wider than /${options.minIpv6Prefix}). Narrow allowed_ips`)
}

function checkNotShared ({ key, addresses, options }: KeyFacts): CheckResult {
  const outside = addresses.filter((row) => {
    const address = parseIpAddress(row.address)
    return address === undefined || !key.allowedIps.has(address)
  })
  if (outside.length > 0) {
    const examples = outside.slice(0, 3).map((row) => `${row.address} (last ${day(row.lastSeen)})`).join(', ')
    return { severity: 'critical', message: `presented from ${outside.length} address(es) outside allowed_ips: ${examples}. Someone else may hold the key: see misp-keygate incident ${key.id}` }
  }
  if (addresses.length > options.maxAddresses) {
    return warning(`used from ${addresses.length} addresses, more than ${options.maxAddresses}. Check that one integration uses it, not several`)
  }
  return OK
}

function checkInUse ({ key, state, usage, reader, recordsStart, options }: KeyFacts): CheckResult {
  if (state === 'revoked' || state === 'expired') return checkAfterEnd(key, state, reader)
  if (state === 'not yet valid') return NOT_APPLICABLE
  const window = options.unusedDays * DAY_MS
  const lastAllowed = usage?.lastAllowed
  if (lastAllowed !== undefined && lastAllowed >= options.now - window) return OK
  if (lastAllowed !== undefined) {
    return warning(`unused for ${Math.floor((options.now - lastAllowed) / DAY_MS)} days (last ${day(lastAllowed)}). Revoke it: misp-keygate keys revoke ${key.id} --reason unused`)
  }
  // Records younger than the window cannot show that a key is unused.
  if (recordsStart > options.now - window) return { severity: 'info', message: `never used since the records started on ${day(recordsStart)}` }
  return warning(`never used since the records started on ${day(recordsStart)}. Revoke it: misp-keygate keys revoke ${key.id} --reason unused`)
}

/** Flags a revoked or expired key that is still presented: someone still has a copy. */
function checkAfterEnd (key: KeyEntry, state: 'revoked' | 'expired', reader: UsageReader): CheckResult {
  const end = state === 'revoked' ? key.revoked!.at : key.expires!
  const reason = state === 'revoked' ? 'revoked_key' : 'expired_key'
  const count = reader.countEventsByReason({ keyId: key.id, since: end, types: ['denial'] }).get(reason) ?? 0
  if (count === 0) return OK
  const last = reader.events({ keyId: key.id, since: end, types: ['denial'], newestFirst: true, limit: 1 })[0]
  const detail = `presented ${count} time(s) since it was ${state} on ${day(end)}, last ${iso(last?.time)} from ${last?.address ?? 'an unknown address'}`
  if (state === 'revoked') return { severity: 'critical', message: `${detail}. Find out who still has it: misp-keygate incident ${key.id}` }
  return warning(`${detail}. Move that integration to a new key`)
}

function checkRotation ({ key, usage, policy, reader, options }: KeyFacts): CheckResult {
  if (key.replaces === undefined) return NOT_APPLICABLE
  const predecessor = reader.key(key.replaces)
  const predecessorEntry = policy.keys.find((other) => other.id === key.replaces)
  const lastOld = predecessor?.lastAllowed
  if (lastOld === undefined || (predecessorEntry !== undefined && keyState(predecessorEntry, options.now) === 'revoked')) return OK
  if (usage?.firstUsed === undefined) {
    return warning(`replaces "${key.replaces}", which was used ${day(lastOld)}, but this key has not been used yet. Move the integration to this key`)
  }
  if (lastOld <= usage.firstUsed) return { severity: 'info', message: `replaces "${key.replaces}", idle since this key's first use` }
  return warning(`replaces "${key.replaces}", which is still in use (last ${iso(lastOld)}). Revoke it once the integration has moved`)
}

function warning (message: string): CheckResult {
  return { severity: 'warning', message }
}

function isLive (key: KeyEntry, now: number): boolean {
  return isLiveState(keyState(key, now))
}

function isLiveState (state: KeyState): boolean {
  return state === 'active' || state === 'expiring' || state === 'not yet valid'
}

/** Ids of the keys linked to `id` by `replaces`, in either direction, `id` included. */
function rotationFamily (policy: Policy, id: string): Set<string> {
  const family = new Set([id])
  for (let grew = true; grew;) {
    grew = false
    for (const key of policy.keys) {
      const linked = family.has(key.id) || (key.replaces !== undefined && family.has(key.replaces))
      if (!linked) continue
      for (const member of [key.id, key.replaces]) {
        if (member !== undefined && !family.has(member)) { family.add(member); grew = true }
      }
    }
  }
  return family
}

function days (milliseconds: number): string {
  const count = Math.ceil(milliseconds / DAY_MS)
  return count === 1 ? '1 day' : `${count} days`
}

export function day (time: number): string {
  return new Date(time).toISOString().slice(0, 10)
}

function iso (time: number | undefined): string {
  return time === undefined ? '-' : new Date(time).toISOString().slice(0, 19) + 'Z'
}
