import { readFile } from 'node:fs/promises'
import type { Profile } from '../acl/profile.js'
import { dirname, resolve } from 'node:path'
import type { Issue } from './fields.js'
import { makeProblem, MAX_KEPT_PROBLEMS, PolicyLoadError, type PolicyProblem } from './problems.js'
import { policyValue } from './schema.js'
import type { KeyEntry, Policy } from './types.js'
import { findKeyFilePaths, readKeyFiles } from './upstream.js'
import { parseYaml } from './yaml.js'

export { PolicyLoadError, type PolicyProblem } from './problems.js'

export interface LoadOptions {
  /** Load time in milliseconds since the epoch: `revoked.at` may not be later. */
  readonly now: number
  /** Environment that `env:NAME` upstream keys are read from. */
  readonly env: NodeJS.ProcessEnv
}

/**
 * Reads and validates a policy file. Throws PolicyLoadError listing every problem, with a
 * message that explains how to provide the file when it does not exist.
 */
export async function loadPolicy (file: string, options: LoadOptions): Promise<Policy> {
  return await parsePolicy(await readPolicyText(file), file, options)
}

/**
 * Validates policy text. `file` names it in messages, and relative `file:` upstream key
 * paths start at its directory. Throws PolicyLoadError listing every problem found.
 */
export async function parsePolicy (text: string, file: string, options: LoadOptions): Promise<Policy> {
  const yaml = parseYaml(text)
  if (!yaml.ok) throw new PolicyLoadError(file, [makeProblem({ file }, yaml.message)])
  return await validatePolicy(yaml.document, file, options)
}

/** Validates a parsed YAML document as a policy, as parsePolicy does after parsing. */
export async function validatePolicy (document: unknown, file: string, options: LoadOptions): Promise<Policy> {
  const baseDirectory = dirname(resolve(file))
  const upstreamFiles = await readKeyFiles(findKeyFilePaths(document, baseDirectory))
  const checked = policyValue(document, '', { now: options.now, env: options.env, upstreamFiles, baseDirectory })
  if (!checked.ok) throw new PolicyLoadError(file, checked.issues.slice(0, MAX_KEPT_PROBLEMS).map((issue) => toProblem(file, issue)), checked.issues.length)

  return buildPolicy(file, checked.value.keys, checked.value.profiles)
}

async function readPolicyText (file: string): Promise<string> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (error) {
    throw new PolicyLoadError(file, [makeProblem({ file }, describeReadError(error))])
  }

  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new PolicyLoadError(file, [makeProblem({ file }, 'is not valid UTF-8 text. Save the policy file as UTF-8')])
  }
}

function describeReadError (error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') {
    return 'policy file not found. Create it (config/policy.example.yaml in the misp-keygate source is a commented example) or give the path of an existing policy file (serve takes --policy FILE or the KEYGATE_POLICY variable)'
  }
  if (code === 'EISDIR') return 'is a directory. Give the path of the policy file itself'
  if (code === 'EACCES' || code === 'EPERM') return `cannot be read (${code}). Give the misp-keygate user read permission`
  return `cannot be read (${code ?? String(error)})`
}

function toProblem (file: string, issue: Issue): PolicyProblem {
  const field = issue.field === '' ? undefined : issue.field
  return makeProblem({ file, keyId: issue.keyId, index: issue.index, field }, issue.message)
}

function buildPolicy (file: string, keys: readonly KeyEntry[], profiles: ReadonlyMap<string, Profile>): Policy {
  const byDigest = new Map<string, KeyEntry>()
  for (const key of keys) byDigest.set(key.hash, key)
  return Object.freeze({ version: 1, file, keys, byDigest, profiles })
}
