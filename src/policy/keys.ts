import { accept, appendAll, describeValue, isMapping, reject, type Check, type Issue } from './fields.js'
import type { KeyFields } from './schema.js'
import type { KeyEntry } from './types.js'

/**
 * Returns a check for the `keys` list: each item checked by `keyCheck`, then ids and
 * hashes checked for uniqueness. Problems carry the key's index, and its id when valid.
 */
export function keyListOf (keyCheck: Check<KeyFields>, idPattern: RegExp, hashPattern: RegExp): Check<readonly KeyEntry[]> {
  return (value, field, context) => {
    if (!Array.isArray(value)) return reject(field, `must be a list of keys, each starting with "- id:", or [] for none, got ${describeValue(value)}`)

    const entries: KeyEntry[] = []
    const issues: Issue[] = []
    const ids = value.map((item) => readValidField(item, 'id', idPattern))
    for (const [index, item] of value.entries()) {
      const checked = keyCheck(item, '', context)
      if (checked.ok) entries.push(toKeyEntry(checked.value))
      else appendAll(issues, checked.issues.map((issue) => ({ ...issue, index, keyId: ids[index] })))
    }

    appendAll(issues, findDuplicateIds(ids))
    appendAll(issues, findDuplicateHashes(value, ids, hashPattern))
    return issues.length === 0 ? accept(Object.freeze(entries)) : { ok: false, issues }
  }
}

function readValidField (item: unknown, name: string, pattern: RegExp): string | undefined {
  const value = isMapping(item) ? item[name] : undefined
  return typeof value === 'string' && pattern.test(value) ? value : undefined
}

function findDuplicateIds (ids: ReadonlyArray<string | undefined>): Issue[] {
  const firstIndex = new Map<string, number>()
  const issues: Issue[] = []
  for (const [index, id] of ids.entries()) {
    if (id === undefined) continue
    const first = firstIndex.get(id)
    if (first === undefined) firstIndex.set(id, index)
    else issues.push({ index, keyId: id, field: 'id', message: `is also the id of keys[${first}]. Give each key its own id` })
  }
  return issues
}

function findDuplicateHashes (items: readonly unknown[], ids: ReadonlyArray<string | undefined>, hashPattern: RegExp): Issue[] {
  const firstIndex = new Map<string, number>()
  const issues: Issue[] = []
  for (const [index, item] of items.entries()) {
    const hash = readValidField(item, 'hash', hashPattern)
    if (hash === undefined) continue
    const first = firstIndex.get(hash)
    if (first === undefined) {
      firstIndex.set(hash, index)
      continue
    }
    const message = `is the same as the hash of ${nameKey(ids, first)}, so ${nameKey(ids, first)} and ${nameKey(ids, index)} would share one key. Give each integration its own key`
    issues.push({ index, keyId: ids[index], field: 'hash', message })
  }
  return issues
}

function nameKey (ids: ReadonlyArray<string | undefined>, index: number): string {
  const id = ids[index]
  return id === undefined ? `keys[${index}]` : `key "${id}" (keys[${index}])`
}

function toKeyEntry (fields: KeyFields): KeyEntry {
  return Object.freeze({
    id: fields.id,
    owner: fields.owner,
    purpose: fields.purpose,
    hash: fields.hash,
    allowedIps: fields.allowed_ips,
    expires: fields.expires,
    notBefore: fields.not_before,
    readOnly: fields.read_only,
    upstreamKey: fields.upstream_key,
    profile: fields.profile,
    allowSensitive: fields.allow_sensitive,
    revoked: fields.revoked === undefined ? undefined : Object.freeze({ at: fields.revoked.at, reason: fields.revoked.reason }),
    replaces: fields.replaces,
    labels: fields.labels
  })
}
