import { editPolicy, type WriteOptions } from './edit-file.js'
import type { FieldValue, PolicyEditor } from './editor.js'
import type { Policy } from './types.js'
import { PolicyWriteError } from './write-error.js'

export { editPolicy, type EditResult, type WriteOptions } from './edit-file.js'
export { PolicyEditor, type FieldValue, type ScalarValue } from './editor.js'
export { PolicyWriteError, type PolicyWriteErrorCode } from './write-error.js'

/** A key to add to the policy, in the policy file's terms. */
export interface NewKey {
  readonly id: string
  readonly owner: string
  readonly purpose: string
  /** `sha256:` and 64 lowercase hex digits. */
  readonly hash: string
  readonly allowedIps: readonly string[]
  /** Milliseconds since the epoch. */
  readonly notBefore?: number
  /** Milliseconds since the epoch; undefined for a key that never expires. */
  readonly expires?: number
  readonly readOnly: boolean
  readonly profile?: string
  /** `env:NAME` or `file:PATH`; undefined for a pass-through key. */
  readonly upstreamKey?: string
  /** Id of the key this one succeeds in a rotation. */
  readonly replaces?: string
  readonly labels?: Readonly<Record<string, string>>
}

/** Returns a key's fields with their policy file names, in the order the file lists them. */
export function newKeyFields (key: NewKey): Record<string, FieldValue | undefined> {
  return {
    id: key.id,
    replaces: key.replaces,
    owner: key.owner,
    purpose: key.purpose,
    hash: key.hash,
    allowed_ips: key.allowedIps,
    not_before: key.notBefore === undefined ? undefined : formatTimestamp(key.notBefore),
    expires: key.expires === undefined ? undefined : formatTimestamp(key.expires),
    read_only: key.readOnly,
    profile: key.profile,
    upstream_key: key.upstreamKey,
    labels: key.labels === undefined || Object.keys(key.labels).length === 0 ? undefined : key.labels
  }
}

/** Formats a time for the policy file: RFC 3339 in UTC, whole seconds (rounded down). */
export function formatTimestamp (time: number): string {
  return new Date(Math.floor(time / 1000) * 1000).toISOString().replace('.000Z', 'Z')
}

/** Adds a key at the end of the policy. Throws PolicyWriteError `key_exists` when the id is taken. */
export async function addKey (file: string, key: NewKey, options?: WriteOptions): Promise<Policy> {
  return (await editPolicy(file, (editor) => { editor.addKey(newKeyFields(key)) }, options)).policy
}

/**
 * Revokes a key: sets `revoked` with the time and reason, and keeps the entry as a record.
 * Throws PolicyWriteError `key_not_found`, or `already_revoked` leaving the first revocation as it is.
 */
export async function revokeKey (file: string, id: string, reason: string, now: number, options?: WriteOptions): Promise<Policy> {
  return (await editPolicy(file, (editor) => { markRevoked(editor, id, reason, now) }, { now, ...options })).policy
}

/** Sets a key's `expires`. Throws PolicyWriteError `key_not_found`. */
export async function setExpiry (file: string, id: string, expires: number, options?: WriteOptions): Promise<Policy> {
  return (await editPolicy(file, (editor) => { editor.setField(id, 'expires', formatTimestamp(expires)) }, options)).policy
}

/** Sets `revoked` on a key inside an edit. */
export function markRevoked (editor: PolicyEditor, id: string, reason: string, now: number): void {
  const entry = editor.read(id)
  if (entry === undefined) throw editor.notFound(id)
  const revoked = entry.revoked as { at?: unknown, reason?: unknown } | null | undefined
  if (revoked !== undefined && revoked !== null) {
    const detail = `is already revoked (at ${String(revoked.at)}, reason: ${JSON.stringify(revoked.reason)}). The first revocation is kept; nothing was changed`
    throw new PolicyWriteError('already_revoked', { file: editor.file, keyId: id, field: 'revoked' }, detail)
  }
  editor.setField(id, 'revoked', { at: formatTimestamp(now), reason })
}
