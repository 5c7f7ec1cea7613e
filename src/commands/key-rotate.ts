import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { UsageError } from '../config.js'
import { digestKey } from '../digest.js'
import { generateMispKey } from '../keygen.js'
import { KEY_ID_PATTERN } from '../policy/schema.js'
import { parseTimestamp } from '../policy/timestamp.js'
import { editPolicy, formatTimestamp, PolicyEditor, PolicyWriteError, type FieldValue } from '../policy/writer.js'
import { policyPath, type CommandIo } from './command-io.js'
import { formatDuration, parseDuration } from './duration.js'
import { hashFromStdin } from './hash.js'
import { describeExpiry, EXPIRY_OPTIONS, onePositional, readExpiry, readKeyId } from './key-options.js'
import { warnUnsetVariables } from './unset-variables.js'

/** Time the old key stays valid after a rotation, for clients to switch over. */
export const DEFAULT_OVERLAP = '24h'

const ROTATE_OPTIONS = {
  policy: { type: 'string' },
  overlap: { type: 'string' },
  'new-id': { type: 'string' },
  force: { type: 'boolean' },
  ...EXPIRY_OPTIONS
} as const

/** Fields of the old key that its successor does not copy: they belong to one key, not to the integration. */
const NOT_COPIED = new Set(['id', 'hash', 'expires', 'not_before', 'revoked', 'replaces'])

interface Rotation {
  readonly oldId: string
  readonly newId: string | undefined
  readonly hash: string
  readonly expires: number | undefined
  /** The old key's new expiry: now plus the overlap. */
  readonly overlapEnd: number
  readonly passThrough: boolean
  /** Allows a second successor when a key that is not revoked already replaces the old one. */
  readonly force: boolean
}

interface RotationResult {
  readonly newId: string
  /** The old key's expiry after the rotation; undefined when it is revoked. */
  readonly oldExpires: number | undefined
}

/**
 * Runs `keys rotate ID`: adds a successor with the old key's owner, purpose, addresses,
 * rights, labels and upstream key, records `replaces: ID` on it, and shortens the old
 * key's life to now plus the overlap. A generated key is printed once on stdout; for a
 * pass-through key the new MISP key is read on stdin instead.
 */
export async function rotateKey (args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: ROTATE_OPTIONS })
  const oldId = readKeyId(onePositional(positionals, 'keys rotate ID [--overlap 24h] [--new-id NEW]'), 'ID')
  const newId = values['new-id'] === undefined ? undefined : readKeyId(values['new-id'], '--new-id')
  const overlap = parseDuration(values.overlap ?? DEFAULT_OVERLAP, '--overlap')
  const now = io.now()
  const expires = readExpiry(values, now)
  const file = policyPath(values.policy, io.env)

  // The mode is read before locking, so that reading a new MISP key on stdin never holds the lock.
  const passThrough = await isPassThrough(file, oldId)
  const key = passThrough ? undefined : generateMispKey()
  const hash = key === undefined ? await hashFromStdin(io.stdin as NodeJS.ReadStream) : digestKey(key)
  const rotation: Rotation = { oldId, newId, hash, expires, overlapEnd: now + overlap, passThrough, force: values.force === true }
  const { value: result, policy } = await editPolicy(file, (editor) => applyRotation(editor, rotation), { now, env: io.env })

  if (key !== undefined) io.stdout.write(key + '\n')
  io.stderr.write(describeRotation(file, rotation, result, overlap))
  warnUnsetVariables(policy, io)
  return 0
}

async function isPassThrough (file: string, id: string): Promise<boolean> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new PolicyWriteError('unreadable', { file }, `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}). Pass --policy with the path of the policy file`)
  }
  const editor = new PolicyEditor(file, text)
  const entry = editor.read(id)
  if (entry === undefined) throw editor.notFound(id)
  return entry.upstream_key === undefined
}

function applyRotation (editor: PolicyEditor, rotation: Rotation): RotationResult {
  const old = editor.read(rotation.oldId)
  if (old === undefined) throw editor.notFound(rotation.oldId)
  if ((old.upstream_key === undefined) !== rotation.passThrough) {
    throw new PolicyWriteError('changed_during_edit', { file: editor.file, keyId: rotation.oldId, field: 'upstream_key' }, 'changed while this command ran. Run the command again')
  }
  if (!rotation.force) refuseSecondSuccessor(editor, rotation.oldId)
  const newId = rotation.newId ?? nextRotationId(rotation.oldId, (id) => editor.has(id))
  editor.addKey(successorFields(editor.file, old, newId, rotation))

  if (old.revoked !== undefined && old.revoked !== null) return { newId, oldExpires: undefined }
  const current = typeof old.expires === 'string' ? parseTimestamp(old.expires) : undefined
  // Never lengthen the old key's life: an earlier expiry stays.
  if (current?.ok === true && current.time <= rotation.overlapEnd) return { newId, oldExpires: current.time }
  editor.setField(rotation.oldId, 'expires', formatTimestamp(rotation.overlapEnd))
  return { newId, oldExpires: rotation.overlapEnd }
}

/** Throws when a key that is not revoked already replaces `oldId`: checked under the lock, so concurrent rotations add one successor. */
function refuseSecondSuccessor (editor: PolicyEditor, oldId: string): void {
  const successor = editor.ids().find((id) => {
    const entry = editor.read(id)
    return entry?.replaces === oldId && (entry.revoked === undefined || entry.revoked === null)
  })
  if (successor === undefined) return
  const detail = `already has the successor "${successor}" (replaces: ${oldId}), so nothing was changed. Move the integration to "${successor}", then run misp-keygate keys revoke ${oldId} --reason rotated. To add a second successor anyway, pass --force`
  throw new PolicyWriteError('has_successor', { file: editor.file, keyId: oldId }, detail)
}

/** Returns the next free id: `siem-pull` becomes `siem-pull-2`, `siem-pull-2` becomes `siem-pull-3`. */
export function nextRotationId (id: string, isTaken: (id: string) => boolean): string {
  const numbered = /^(.*)-([0-9]+)$/.exec(id)
  const base = numbered?.[1] ?? id
  let next = numbered === null ? 2 : Number(numbered[2]) + 1
  while (isTaken(`${base}-${next}`)) next++
  const candidate = `${base}-${next}`
  if (!KEY_ID_PATTERN.test(candidate)) throw new UsageError(`The successor id "${candidate}" is longer than 64 characters. Give one with --new-id`)
  return candidate
}

function successorFields (file: string, old: Record<string, unknown>, newId: string, rotation: Rotation): Record<string, FieldValue | undefined> {
  const fields: Record<string, FieldValue | undefined> = { id: newId, replaces: rotation.oldId }
  const expires = expiryText(rotation.expires)
  for (const [name, value] of Object.entries(old)) {
    if (name === 'hash') fields.hash = rotation.hash
    else if (name === 'expires') fields.expires = expires
    else if (!NOT_COPIED.has(name)) fields[name] = copyValue(value, { file, keyId: rotation.oldId, field: name })
    // An old key without expiry gets the successor's expiry after its addresses.
    if (name === 'allowed_ips' && !('expires' in old)) fields.expires = expires
  }
  return fields
}

function expiryText (expires: number | undefined): string | undefined {
  return expires === undefined ? undefined : formatTimestamp(expires)
}

function copyValue (value: unknown, place: { file: string, keyId: string, field: string }): FieldValue | undefined {
  if (value === null) return undefined
  if (isScalar(value)) return value
  if (Array.isArray(value) && value.every(isScalar)) return value
  if (typeof value === 'object' && !Array.isArray(value) && Object.values(value).every(isScalar)) return value as Record<string, string>
  throw new PolicyWriteError('unsupported_layout', place, 'holds nested values, which keys rotate does not copy. Create the successor with keys create and set replaces by hand')
}

function isScalar (value: unknown): value is string | number | boolean {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
}

function describeRotation (file: string, rotation: Rotation, result: RotationResult, overlap: number): string {
  const lines = [`Rotated key "${rotation.oldId}" to "${result.newId}" in ${file}. "${result.newId}" ${describeExpiry(rotation.expires)}.`]
  if (rotation.passThrough) lines.push(`"${result.newId}" is pass-through: MISP must know the new key read on stdin.`)
  else lines.push(`The new key was printed once on stdout. Store it now: misp-keygate keeps only its digest.`)
  if (result.oldExpires === undefined) {
    lines.push(`"${rotation.oldId}" was already revoked and stays so.`)
  } else {
    lines.push(`"${rotation.oldId}" now expires at ${formatTimestamp(result.oldExpires)} (overlap ${formatDuration(overlap)}). Move the client to the new key,`)
    lines.push(`check with misp-keygate review that "${rotation.oldId}" is no longer used, then run misp-keygate keys revoke ${rotation.oldId} --reason rotated.`)
  }
  return lines.join('\n') + '\n'
}
