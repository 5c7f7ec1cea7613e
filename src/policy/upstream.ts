import { readFile, stat } from 'node:fs/promises'
import { isAbsolute, resolve } from 'node:path'
import { accept, describeValue, isMapping, reject, type Check, type FileRead } from './fields.js'

export type UpstreamReference = { readonly kind: 'env', readonly name: string } | { readonly kind: 'file', readonly path: string }

const ENV_PATTERN = /^env:([A-Za-z_][A-Za-z0-9_]*)$/
const FILE_PREFIX = 'file:'
/** Maximum size of an upstream key file. MISP keys are 40 characters. */
const MAX_KEY_FILE_BYTES = 4096
/** Upstream key files read at the same time, to stay far from the open-file limit. */
const FILE_READ_CONCURRENCY = 16
/** Printable ASCII without space or comma, because MISP splits a key header on commas. */
const SENDABLE_KEY_PATTERN = /^[\x21-\x2b\x2d-\x7e]+$/

/** Parses `env:NAME` or `file:PATH`. Returns undefined for anything else. */
export function parseUpstreamReference (text: string): UpstreamReference | undefined {
  const env = ENV_PATTERN.exec(text)
  if (env?.[1] !== undefined) return { kind: 'env', name: env[1] }
  if (text.startsWith(FILE_PREFIX) && text.length > FILE_PREFIX.length) return { kind: 'file', path: text.slice(FILE_PREFIX.length) }
  return undefined
}

export function resolveKeyFilePath (path: string, baseDirectory: string): string {
  return isAbsolute(path) ? path : resolve(baseDirectory, path)
}

/**
 * Checks an `upstream_key` reference and returns the MISP key it points to. The key and
 * the raw field value never appear in a message, because either may be a secret.
 */
export const upstreamKeyValue: Check<string> = (value, field, context) => {
  const reference = typeof value === 'string' ? parseUpstreamReference(value) : undefined
  if (reference === undefined) {
    const got = typeof value === 'string' ? 'a string that is neither (not shown because it may be a key)' : describeValue(value)
    return reject(field, `must be env:NAME (an environment variable) or file:PATH (a file that contains the key), got ${got}. Never write the key itself into the policy`)
  }

  if (reference.kind === 'env') {
    const key = context.env[reference.name]
    if (key === undefined || key === '') {
      return reject(field, `environment variable ${reference.name} is ${key === undefined ? 'not set' : 'empty'}. Set it to the MISP key before starting misp-keygate`)
    }
    return checkKeyText(key, `environment variable ${reference.name}`, field)
  }

  const path = resolveKeyFilePath(reference.path, context.baseDirectory)
  const read = context.upstreamFiles.get(path) ?? { ok: false, message: 'was not read' }
  if (!read.ok) return reject(field, `upstream key file ${JSON.stringify(path)} ${read.message}`)
  return checkKeyText(read.text, `upstream key file ${JSON.stringify(path)}`, field)
}

function checkKeyText (key: string, source: string, field: string): ReturnType<Check<string>> {
  if (key === '') return reject(field, `${source} is empty. Write the MISP key into it`)
  if (!SENDABLE_KEY_PATTERN.test(key)) {
    return reject(field, `${source} contains a space, comma or non-printable character, so it cannot be sent as one MISP key. It must contain only the key, optionally followed by a line break`)
  }
  return accept(key)
}

/** Lists the absolute paths of every `file:` upstream key in a parsed policy document. */
export function findKeyFilePaths (document: unknown, baseDirectory: string): string[] {
  const keys = isMapping(document) && Array.isArray(document.keys) ? document.keys : []
  const paths = new Set<string>()
  for (const key of keys) {
    const text = isMapping(key) ? key.upstream_key : undefined
    const reference = typeof text === 'string' ? parseUpstreamReference(text) : undefined
    if (reference?.kind === 'file') paths.add(resolveKeyFilePath(reference.path, baseDirectory))
  }
  return [...paths]
}

/** Reads upstream key files, a few at a time, with trailing line breaks trimmed. */
export async function readKeyFiles (paths: readonly string[]): Promise<Map<string, FileRead>> {
  const results = new Map<string, FileRead>()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < paths.length) {
      const path = paths[next++] as string
      results.set(path, await readKeyFile(path))
    }
  }
  await Promise.all(Array.from({ length: Math.min(FILE_READ_CONCURRENCY, paths.length) }, worker))
  return results
}

async function readKeyFile (path: string): Promise<FileRead> {
  try {
    const stats = await stat(path)
    if (!stats.isFile()) return { ok: false, message: 'is not a regular file. Point file: at a file that contains only the key' }
    if (stats.size > MAX_KEY_FILE_BYTES) return { ok: false, message: `is larger than ${MAX_KEY_FILE_BYTES} bytes, too large for a MISP key. Point file: at a file that contains only the key` }
    const text = await readFile(path, 'utf8')
    return { ok: true, text: trimTrailingLineBreaks(text) }
  } catch (error) {
    return { ok: false, message: describeReadError(error) }
  }
}

function trimTrailingLineBreaks (text: string): string {
  let end = text.length
  while (end > 0 && (text[end - 1] === '\n' || text[end - 1] === '\r')) end--
  return text.slice(0, end)
}

function describeReadError (error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'was not found. Create it with the MISP key, or fix the path (relative paths start at the policy file\'s directory)'
  if (code === 'EACCES' || code === 'EPERM') return `cannot be read (${code}). Give the misp-keygate user read permission`
  return `cannot be read (${code ?? String(error)})`
}
