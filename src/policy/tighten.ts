import { isMapping } from './fields.js'
import { parseTimestamp } from './timestamp.js'
import type { KeyEntry, Policy } from './types.js'

/** The keys a tightened policy revoked and removed, by id. */
export interface Tightening {
  readonly policy: Policy
  readonly revoked: readonly string[]
  readonly removed: readonly string[]
}

const UNNAMED_REASON = 'revoked in a policy file that failed to load'

/**
 * Applies the revocations and removals of a policy file that failed to load to the policy
 * in force, and nothing else: a broken file may only take access away. `document` is the
 * file parsed without validation. A key of `current` is removed when no entry has its id
 * and hash, and revoked when an entry with its id has a `revoked` mapping (at `revoked.at`
 * if that parses, else at `now`). Returns undefined when nothing changes, or when the
 * document is not a version 1 mapping with a `keys` list.
 */
export function tightenPolicy (current: Policy, document: unknown, now: number): Tightening | undefined {
  // A file of another version may list keys in another shape: nothing can be read from it.
  if (!isMapping(document) || document.version !== 1 || !Array.isArray(document.keys)) return undefined
  const entries = groupById(document.keys)
  const revoked: string[] = []
  const removed: string[] = []
  const keys: KeyEntry[] = []
  for (const key of current.keys) {
    const own = entries.get(key.id) ?? []
    if (!own.some((entry) => entry.hash === key.hash)) removed.push(key.id)
    else if (key.revoked !== undefined) keys.push(key)
    else keys.push(revokeIfMarked(key, own, now, revoked))
  }
  if (revoked.length === 0 && removed.length === 0) return undefined
  return { policy: rebuild(current, keys), revoked, removed }
}

function groupById (items: readonly unknown[]): Map<unknown, Array<Record<string, unknown>>> {
  const groups = new Map<unknown, Array<Record<string, unknown>>>()
  for (const item of items) {
    if (!isMapping(item)) continue
    const group = groups.get(item.id)
    if (group === undefined) groups.set(item.id, [item])
    else group.push(item)
  }
  return groups
}

function revokeIfMarked (key: KeyEntry, entries: ReadonlyArray<Record<string, unknown>>, now: number, revoked: string[]): KeyEntry {
  const mark = entries.map((entry) => entry.revoked).find(isMapping)
  if (mark === undefined) return key
  revoked.push(key.id)
  const at = typeof mark.at === 'string' ? parseTimestamp(mark.at) : undefined
  const reason = typeof mark.reason === 'string' ? mark.reason : UNNAMED_REASON
  return Object.freeze({ ...key, revoked: Object.freeze({ at: at?.ok === true ? at.time : now, reason }) })
}

function rebuild (current: Policy, keys: readonly KeyEntry[]): Policy {
  const byDigest = new Map<string, KeyEntry>()
  for (const key of keys) byDigest.set(key.hash, key)
  return Object.freeze({ ...current, keys: Object.freeze([...keys]), byDigest })
}
