import { watch, type FSWatcher } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { CORE_SCHEMA, load } from 'js-yaml'
import type { Logger } from 'pino'
import { diffPolicies, type PolicyChanges } from './policy/diff.js'
import { loadInWorker } from './policy/load-in-worker.js'
import { loadPolicy, PolicyLoadError, type PolicyProblem } from './policy/load.js'
import type { ReloadMetrics } from './policy/reload-metrics.js'
import type { PolicyStore } from './policy/store.js'
import { tightenPolicy, type Tightening } from './policy/tighten.js'
import type { Policy } from './policy/types.js'

/**
 * Files larger than this are loaded on a worker thread. 1 MiB is about 2,600 keys of the
 * shape bench/policy-load.ts generates, an estimated 80 ms of parsing and validation.
 */
export const DEFAULT_WORKER_THRESHOLD_BYTES = 1024 * 1024
/** Editors and the policy writer touch the directory several times per save; one reload follows the last event. */
export const DEFAULT_DEBOUNCE_MS = 200
/** Ids listed per kind of change in the reload log line; the counts are always complete. */
const MAX_LOGGED_IDS = 100
/** Problems listed in the log line of a failed reload. */
const MAX_LOGGED_PROBLEMS = 20

export type ReloadTrigger = 'watch' | 'signal' | 'admin'

export type ReloadResult =
  | { readonly status: 'applied', readonly generation: number, readonly changes: PolicyChanges }
  | { readonly status: 'rejected', readonly generation: number, readonly error: string, readonly problems: readonly PolicyProblem[], readonly problemCount: number, readonly tightened?: Omit<Tightening, 'policy'> }

/** State of the policy in force, for /readyz. */
export interface ReloadState {
  /** True while the last reload failed, so the file differs from the policy in force. */
  readonly stale: boolean
  /** The failed reload's message, naming the file, key and field of each problem. */
  readonly error: string | undefined
  /** Milliseconds since the epoch. */
  readonly failedAt: number | undefined
  /** When the policy in force was loaded, in milliseconds since the epoch. */
  readonly loadedAt: number
}

export interface ReloaderOptions {
  readonly file: string
  readonly store: PolicyStore
  readonly logger: Logger
  readonly metrics: ReloadMetrics
  /** Environment that `env:NAME` upstream keys are read from; default process.env. */
  readonly env?: NodeJS.ProcessEnv
  /** Milliseconds since the epoch; default Date.now. */
  readonly clock?: () => number
  readonly workerThresholdBytes?: number
  readonly debounceMs?: number
}

/**
 * Reloads the policy file into a PolicyStore: on a change in its directory (watch), on
 * SIGHUP and on request. A file that fails validation is not applied: the policy in force
 * stays, except that its revocations and removals are (see tightenPolicy), the problems
 * are logged and the state turns stale until a reload succeeds.
 * Reloads never overlap; a request during one runs once more after it.
 */
export class PolicyReloader {
  readonly #options: ReloaderOptions
  readonly #clock: () => number
  #state: ReloadState
  #running: Promise<ReloadResult> | undefined
  #queued: Promise<ReloadResult> | undefined
  /** Identity of the file at the last reload attempt, to skip watch events that changed nothing. */
  #lastSignature: string | undefined
  #watcher: FSWatcher | undefined
  #debounce: NodeJS.Timeout | undefined

  constructor (options: ReloaderOptions) {
    this.#options = options
    this.#clock = options.clock ?? Date.now
    this.#state = { stale: false, error: undefined, failedAt: undefined, loadedAt: this.#clock() }
    options.metrics.generation.set(options.store.generation)
    options.metrics.lastReload.set(this.#state.loadedAt / 1000)
    options.metrics.stale.set(0)
  }

  get state (): ReloadState {
    return this.#state
  }

  /**
   * Watches the policy file's directory, not the file: editors and the policy writer
   * replace the file by renaming another over it, which ends a watch on the file itself.
   * Every event in the directory counts, so a swapped symbolic link (as Kubernetes
   * updates a mounted ConfigMap) is seen too. A stat of the file then skips events that
   * left it as it was.
   */
  async watch (): Promise<void> {
    this.#lastSignature = await fileSignature(this.#options.file)
    this.#watcher = watch(dirname(this.#options.file), { persistent: false }, () => {
      clearTimeout(this.#debounce)
      this.#debounce = setTimeout(() => { void this.#reloadIfChanged() }, this.#options.debounceMs ?? DEFAULT_DEBOUNCE_MS)
    })
    this.#watcher.on('error', (err) => { this.#options.logger.error({ err, file: this.#options.file }, 'watching the policy directory failed; reload with SIGHUP or POST /reload') })
  }

  close (): void {
    clearTimeout(this.#debounce)
    this.#watcher?.close()
    this.#watcher = undefined
  }

  /** Reloads the file now, or once more after the reload in progress. */
  async reload (trigger: ReloadTrigger): Promise<ReloadResult> {
    if (this.#running === undefined) {
      this.#running = this.#run(trigger).finally(() => { this.#running = undefined })
      return await this.#running
    }
    this.#queued ??= this.#running.then(async () => {
      this.#queued = undefined
      return await this.reload(trigger)
    })
    return await this.#queued
  }

  async #reloadIfChanged (): Promise<void> {
    if (await fileSignature(this.#options.file) === this.#lastSignature) return
    await this.reload('watch')
  }

  async #run (trigger: ReloadTrigger): Promise<ReloadResult> {
    const started = performance.now()
    // Taken before reading, so a change made during the load triggers one more reload.
    this.#lastSignature = await fileSignature(this.#options.file)
    let policy: Policy
    let worker: boolean
    try {
      [policy, worker] = await this.#load()
    } catch (error) {
      return await this.#reject(trigger, error)
    }
    return await this.#apply(trigger, policy, worker, started)
  }

  async #load (): Promise<[Policy, boolean]> {
    const options = { now: this.#clock(), env: this.#options.env ?? process.env }
    const size = await stat(this.#options.file).then((stats) => stats.size, () => 0)
    if (size <= (this.#options.workerThresholdBytes ?? DEFAULT_WORKER_THRESHOLD_BYTES)) return [await loadPolicy(this.#options.file, options), false]
    try {
      return [await loadInWorker(this.#options.file, options), true]
    } catch (error) {
      if (error instanceof PolicyLoadError) throw error
      this.#options.logger.error({ err: error, file: this.#options.file }, 'loading the policy on a worker thread failed; loading it on the main thread')
      return [await loadPolicy(this.#options.file, options), false]
    }
  }

  async #apply (trigger: ReloadTrigger, policy: Policy, worker: boolean, started: number): Promise<ReloadResult> {
    const { store, metrics, logger } = this.#options
    const before = store.current
    // The swap: a request that starts after this line is decided under the new policy.
    store.replace(policy)
    this.#state = { stale: false, error: undefined, failedAt: undefined, loadedAt: this.#clock() }
    metrics.reloads.inc({ result: 'success' })
    metrics.generation.set(store.generation)
    metrics.lastReload.set(this.#state.loadedAt / 1000)
    metrics.stale.set(0)

    const changes = await diffPolicies(before, policy)
    logger.info({
      trigger,
      file: policy.file,
      generation: store.generation,
      keys: policy.keys.length,
      ...describeChanges(changes),
      worker,
      duration_ms: Math.round(performance.now() - started)
    }, 'policy reloaded')
    return { status: 'applied', generation: store.generation, changes }
  }

  async #reject (trigger: ReloadTrigger, error: unknown): Promise<ReloadResult> {
    const { store, metrics, logger, file } = this.#options
    const problems = error instanceof PolicyLoadError ? error.problems : []
    const problemCount = error instanceof PolicyLoadError ? error.problemCount : 0
    const message = error instanceof Error ? error.message : String(error)
    this.#state = { ...this.#state, stale: true, error: message, failedAt: this.#clock() }
    metrics.reloads.inc({ result: 'failure' })
    metrics.stale.set(1)
    logger.error({
      trigger,
      file,
      generation: store.generation,
      problem_count: problemCount,
      problems: problems.slice(0, MAX_LOGGED_PROBLEMS).map((problem) => problem.message),
      ...(problemCount === 0 ? { err: error } : {})
    }, 'policy reload failed; the policy in force stays')
    const tightened = await this.#tighten(trigger)
    return { status: 'rejected', generation: store.generation, error: message, problems, problemCount, ...(tightened === undefined ? {} : { tightened }) }
  }

  /**
   * A revocation must not wait for an unrelated entry to be fixed (an `env:` variable the
   * proxy lacks is enough to break every reload), so the revocations and removals of the
   * failed file are applied to the policy in force. The state stays stale.
   */
  async #tighten (trigger: ReloadTrigger): Promise<Omit<Tightening, 'policy'> | undefined> {
    const { store, metrics, logger, file } = this.#options
    const tightening = tightenPolicy(store.current, await readLeniently(file), this.#clock())
    if (tightening === undefined) return undefined
    store.replace(tightening.policy)
    metrics.generation.set(store.generation)
    const { revoked, removed } = tightening
    logger.warn({ trigger, file, generation: store.generation, revoked: revoked.slice(0, MAX_LOGGED_IDS), removed: removed.slice(0, MAX_LOGGED_IDS), revoked_count: revoked.length, removed_count: removed.length }, 'policy file failed to load; revocations and removals applied')
    return { revoked, removed }
  }
}

/**
 * Parses the policy file without validating it. Returns undefined when it cannot be read or parsed.
 * NOTE: this parse runs on the main thread, even for a file large enough for the worker.
 */
async function readLeniently (file: string): Promise<unknown> {
  try {
    // json: true lets a later duplicate mapping key win instead of failing the parse.
    return load(await readFile(file, 'utf8'), { schema: CORE_SCHEMA, json: true })
  } catch {
    return undefined
  }
}

/** Identity of a file's current content, as far as stat shows it; undefined when it cannot be read. */
async function fileSignature (file: string): Promise<string | undefined> {
  try {
    const stats = await stat(file)
    return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}`
  } catch {
    return undefined
  }
}

function describeChanges (changes: PolicyChanges): Record<string, unknown> {
  const fields: Record<string, unknown> = {}
  for (const [kind, ids] of Object.entries(changes) as Array<[string, string[]]>) {
    fields[kind] = ids.slice(0, MAX_LOGGED_IDS)
    if (ids.length > MAX_LOGGED_IDS) fields[`${kind}_count`] = ids.length
  }
  return fields
}
