import { setImmediate as nextTurn } from 'node:timers/promises'
import { AddressSet } from '../net/address.js'
import { appendAll } from './fields.js'
import type { KeyEntry, Policy } from './types.js'

/** The changes between two policies, as key ids only. */
export interface PolicyChanges {
  readonly added: string[]
  readonly removed: string[]
  /** Keys that were not revoked before and are now. */
  readonly revoked: string[]
  /** Keys whose other fields changed. */
  readonly changed: string[]
}

/** Keys compared per turn of the event loop, so diffing 100,000 keys never stalls requests for long. */
const KEYS_PER_TURN = 5000

/** Compares two policies key by key. */
export async function diffPolicies (before: Policy, after: Policy): Promise<PolicyChanges> {
  const changes: PolicyChanges = { added: [], removed: [], revoked: [], changed: [] }
  const previous = new Map(before.keys.map((key) => [key.id, key]))
  for (const [index, key] of after.keys.entries()) {
    if (index % KEYS_PER_TURN === KEYS_PER_TURN - 1) await nextTurn()
    const old = previous.get(key.id)
    previous.delete(key.id)
    if (old === undefined) changes.added.push(key.id)
    else if (old.revoked === undefined && key.revoked !== undefined) changes.revoked.push(key.id)
    else if (!isSameKey(old, key)) changes.changed.push(key.id)
  }
  appendAll(changes.removed, previous.keys())
  return changes
}

function isSameKey (a: KeyEntry, b: KeyEntry): boolean {
  const names = new Set([...Object.keys(a), ...Object.keys(b)])
  for (const name of names) {
    if (!isSameValue((a as unknown as Record<string, unknown>)[name], (b as unknown as Record<string, unknown>)[name])) return false
  }
  return true
}

/** Compares values of a loaded policy by content: address sets by entries, sets by members, objects by fields. */
function isSameValue (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (a instanceof AddressSet && b instanceof AddressSet) return isSameValue(a.entries, b.entries)
  if (a instanceof Set && b instanceof Set) return a.size === b.size && [...a].every((item) => b.has(item))
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, index) => isSameValue(item, b[index]))
  if (Array.isArray(a) || Array.isArray(b) || a instanceof Set || b instanceof Set) return false
  const aFields = Object.entries(a)
  return aFields.length === Object.keys(b).length && aFields.every(([name, value]) => isSameValue(value, (b as Record<string, unknown>)[name]))
}
