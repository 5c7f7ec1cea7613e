import { Worker } from 'node:worker_threads'
import { compileProfile, type Profile } from '../acl/profile.js'
import type { LoadOptions } from './load.js'
import type { ProfileText, WorkerInput, WorkerMessage } from './load-protocol.js'
import { PolicyLoadError } from './problems.js'
import { decodeTransfer } from './transfer.js'
import type { KeyEntry, Policy } from './types.js'

/** Keys per message from the worker. Rebuilding 1,000 keys took 11 ms (median) on the bench machine, so a message costs about 3 ms. */
export const DEFAULT_CHUNK_SIZE = 250

// Under the test runner this module is TypeScript source, and the worker must be too.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './load-worker.ts' : './load-worker.js', import.meta.url)

/**
 * Loads a policy file like loadPolicy, but reads, parses and validates it on a worker
 * thread. The main thread only rebuilds the result, one chunk of keys per message, so
 * requests keep being served while a large policy loads. Throws PolicyLoadError as
 * loadPolicy does.
 */
export async function loadInWorker (file: string, options: LoadOptions, chunkSize = DEFAULT_CHUNK_SIZE): Promise<Policy> {
  const input: WorkerInput = { file, now: options.now, env: { ...options.env }, chunkSize }
  const worker = new Worker(WORKER_URL, { workerData: input })
  const assembly = new PolicyAssembly(file)
  try {
    return await new Promise<Policy>((resolve, reject) => {
      let ended = false
      worker.on('message', (message: WorkerMessage) => {
        ended ||= message.type === 'done' || message.type === 'rejected' || message.type === 'failed'
        // Each message is rebuilt in a turn of its own, so requests run in between. The
        // worker sends the next one on request, because Node decodes all queued messages in one turn.
        setImmediate(() => {
          try {
            const policy = assembly.add(message)
            if (policy === undefined) worker.postMessage('next')
            else resolve(policy)
          } catch (error) {
            reject(error)
          }
        })
      })
      worker.once('error', reject)
      worker.once('exit', (code) => { if (!ended) reject(new Error(`the policy load worker exited with code ${code} before it finished`)) })
    })
  } finally {
    await worker.terminate()
  }
}

/** Rebuilds a policy from the worker's messages. */
class PolicyAssembly {
  readonly #file: string
  readonly #keys: KeyEntry[] = []
  readonly #byDigest = new Map<string, KeyEntry>()
  #rest: Record<string, unknown> | undefined
  #profiles = new Map<string, Profile>()
  #keyCount = 0
  #digestCount = 0

  constructor (file: string) {
    this.#file = file
  }

  /** Takes one message; returns the policy once it is complete. */
  add (message: WorkerMessage): Policy | undefined {
    switch (message.type) {
      case 'header':
        this.#rest = decodeTransfer(message.rest) as Record<string, unknown>
        this.#profiles = compileProfiles(message.profiles)
        this.#keyCount = message.keyCount
        this.#digestCount = message.digestCount
        return undefined
      case 'keys':
        for (const encoded of message.keys) {
          const key = decodeTransfer(encoded) as KeyEntry
          this.#keys.push(key)
          this.#byDigest.set(key.hash, key)
        }
        return undefined
      case 'done':
        return this.#build()
      case 'rejected':
        throw new PolicyLoadError(this.#file, message.problems, message.problemCount)
      case 'failed':
        throw new Error(`the policy load worker failed: ${message.message}`)
    }
  }

  // Mirrors buildPolicy in load.ts: the digest map is rebuilt here rather than sent twice.
  #build (): Policy {
    const byDigest = this.#byDigest
    if (this.#rest === undefined || this.#keys.length !== this.#keyCount || byDigest.size !== this.#digestCount) {
      throw new Error(`the policy load worker sent ${this.#keys.length} of ${this.#keyCount} keys and ${byDigest.size} of ${this.#digestCount} digests`)
    }
    return Object.freeze({ ...this.#rest, keys: Object.freeze(this.#keys), byDigest, profiles: this.#profiles }) as unknown as Policy
  }
}

function compileProfiles (texts: readonly ProfileText[]): Map<string, Profile> {
  const profiles = new Map<string, Profile>()
  for (const text of texts) {
    const compiled = compileProfile(text.name, text.rules, text.builtIn)
    // The rules compiled once on the worker thread, with the same code.
    if (!compiled.ok) throw new Error(`profile ${text.name} no longer compiles: ${compiled.problems[0]?.message ?? ''}`)
    profiles.set(text.name, compiled.profile)
  }
  return profiles
}
