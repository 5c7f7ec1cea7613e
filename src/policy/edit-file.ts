import { readFile, realpath, stat } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { isDeepStrictEqual } from 'node:util'
import { replaceFileAtomically } from './atomic-write.js'
import { PolicyEditor, type ExpectedField, type FieldValue } from './editor.js'
import { PolicyLoadError, validatePolicy } from './load.js'
import { lockPolicyFile } from './lock.js'
import { withPlaceholderEnv } from './placeholder-env.js'
import type { Policy } from './types.js'
import { PolicyWriteError } from './write-error.js'
import { parseYaml } from './yaml.js'

/** Problems listed in the message of an edit whose result would not load. */
const MAX_LISTED_PROBLEMS = 20

export interface WriteOptions {
  /** Milliseconds since the epoch, for validating the result; default now. */
  readonly now?: number
  /**
   * Environment for `env:NAME` upstream keys while validating; default process.env. A
   * variable that is not set counts as set, because the proxy's environment is not the
   * command's: only the proxy can tell whether it has the key.
   */
  readonly env?: NodeJS.ProcessEnv
  /** Milliseconds to wait for another command's lock; default 10 s. */
  readonly lockWaitMs?: number
}

export interface EditResult<T> {
  /** The policy as written, loaded from the new text. */
  readonly policy: Policy
  /** The edit function's return value. */
  readonly value: T
  /** False when the edit left the text unchanged and nothing was written. */
  readonly written: boolean
}

/**
 * Edits a policy file under its lock: reads it, lets `edit` change it through a
 * PolicyEditor (comments and formatting kept), validates the new text with the loader,
 * and replaces the file atomically. Nothing is written when the result would not load.
 * Throws PolicyWriteError naming the file, and the key and field when there is one.
 */
export async function editPolicy<T> (file: string, edit: (editor: PolicyEditor) => T | Promise<T>, options: WriteOptions = {}): Promise<EditResult<T>> {
  const target = await resolveTarget(file)
  const unlock = await lockPolicyFile(target, { waitMs: options.lockWaitMs })
  try {
    const before = await stat(target)
    const source = await readText(file, target)
    const editor = new PolicyEditor(file, source)
    const value = await edit(editor)
    const text = editor.text()
    const policy = await checkResult(file, target, text, editor.expectedFields(), options)
    if (text === source) return { policy, value, written: false }

    await assertUnchanged(file, target, before)
    await replaceFileAtomically(target, text, before).catch((error: unknown) => {
      throw new PolicyWriteError('write_failed', { file }, `cannot be written (${(error as NodeJS.ErrnoException).code ?? String(error)}). Nothing was changed. Give this user write permission on the file and its directory`, { cause: error })
    })
    return { policy, value, written: true }
  } finally {
    await unlock()
  }
}

/** Resolves symbolic links, so the lock and the rename act on the file itself. */
async function resolveTarget (file: string): Promise<string> {
  try {
    return await realpath(file)
  } catch (error) {
    throw readError(file, error)
  }
}

async function readText (file: string, target: string): Promise<string> {
  let bytes: Buffer
  try {
    bytes = await readFile(target)
  } catch (error) {
    throw readError(file, error)
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new PolicyWriteError('unreadable', { file }, 'is not valid UTF-8 text. Save the policy file as UTF-8')
  }
}

function readError (file: string, error: unknown): PolicyWriteError {
  const code = (error as NodeJS.ErrnoException).code
  const fix = code === 'ENOENT'
    ? 'Create it first (a file with the two lines "version: 1" and "keys: []" is an empty policy), or pass --policy with the path of the policy file'
    : 'Give this user read and write permission on it'
  return new PolicyWriteError('unreadable', { file }, `cannot be read (${code ?? String(error)}). ${fix}`, { cause: error })
}

/** Parses and validates the new text as the proxy will, and checks that every edited field reads back as written. */
async function checkResult (file: string, target: string, text: string, expected: readonly ExpectedField[], options: WriteOptions): Promise<Policy> {
  const yaml = parseYaml(text)
  if (!yaml.ok) throw new PolicyWriteError('invalid_result', { file }, `the edit would produce invalid YAML (${yaml.message}). Nothing was written`)
  for (const field of expected) checkReadBack(file, yaml.document, field)
  try {
    return await validatePolicy(yaml.document, target, { now: options.now ?? Date.now(), env: withPlaceholderEnv(options.env ?? process.env) })
  } catch (error) {
    if (!(error instanceof PolicyLoadError)) throw error
    const first = error.problems[0]
    const lines = error.problems.slice(0, MAX_LISTED_PROBLEMS).map((problem) => `  - ${problem.message}`)
    if (error.problemCount > MAX_LISTED_PROBLEMS) lines.push(`  ... and ${error.problemCount - MAX_LISTED_PROBLEMS} more problems`)
    throw new PolicyWriteError('invalid_result', { file, keyId: first?.keyId, field: first?.field }, `the edited policy would not load, so nothing was written:\n${lines.join('\n')}`, { cause: error })
  }
}

function checkReadBack (file: string, document: unknown, expected: ExpectedField): void {
  const keys = (document as { keys?: unknown }).keys
  const entry = Array.isArray(keys) ? keys.find((key) => (key as { id?: unknown } | null)?.id === expected.keyId) as Record<string, unknown> | undefined : undefined
  if (entry !== undefined && isDeepStrictEqual(entry[expected.field], plain(expected.value))) return
  throw new PolicyWriteError('invalid_result', { file, keyId: expected.keyId, field: expected.field }, 'the edited text does not read back as the value written, so nothing was written. This is a misp-keygate bug: please report it with the layout of this key in the file')
}

function plain (value: FieldValue): unknown {
  if (Array.isArray(value)) return [...value]
  if (typeof value === 'object') return { ...value }
  return value
}

async function assertUnchanged (file: string, target: string, before: Stats): Promise<void> {
  const now = await stat(target)
  if (now.ino === before.ino && now.size === before.size && now.mtimeMs === before.mtimeMs) return
  throw new PolicyWriteError('changed_during_edit', { file }, 'was changed by another program while this command edited it, so nothing was written. Run the command again')
}
