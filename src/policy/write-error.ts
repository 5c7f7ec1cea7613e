/** Stable code of a failed policy edit, for callers to branch on. */
export type PolicyWriteErrorCode =
  | 'unreadable' // the file cannot be read, or is not YAML the editor can change
  | 'unsupported_layout' // the YAML is valid but written in a form the editor does not edit
  | 'key_exists'
  | 'key_not_found'
  | 'already_revoked'
  | 'has_successor' // keys rotate without --force on a key that a live key already replaces
  | 'invalid_result' // the edited policy would not load: nothing was written
  | 'locked'
  | 'changed_during_edit'
  | 'write_failed'

/** Place of a write error: the file, and the key and field when there is one. */
export interface PolicyWritePlace {
  readonly file: string
  readonly keyId?: string
  readonly field?: string
}

/** A policy edit that was not written. The message names the file, key and field, and the fix. */
export class PolicyWriteError extends Error {
  readonly code: PolicyWriteErrorCode
  readonly file: string
  readonly keyId: string | undefined
  readonly field: string | undefined

  constructor (code: PolicyWriteErrorCode, place: PolicyWritePlace, detail: string, options?: { cause?: unknown }) {
    super(`${describePlace(place)}: ${detail}`, options)
    this.name = 'PolicyWriteError'
    this.code = code
    this.file = place.file
    this.keyId = place.keyId
    this.field = place.field
  }
}

function describePlace (place: PolicyWritePlace): string {
  const parts = [`policy file ${place.file}`]
  if (place.keyId !== undefined) parts.push(`key "${place.keyId}"`)
  if (place.field !== undefined) parts.push(`field "${place.field}"`)
  return parts.join(', ')
}
