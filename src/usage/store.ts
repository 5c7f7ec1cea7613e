import type { Logger } from 'pino'
import type { Metrics } from '../metrics.js'
import type { PolicyStore } from '../policy/store.js'
import { DEFAULT_AGGREGATE_LIMITS, UsageAggregator, type AggregateLimits, type DroppedKind } from './aggregate.js'
import { batchSize, type Batch } from './batch.js'
import { errorCode } from './errors.js'
import type { KeyDetail, WriterConfig } from './protocol.js'
import type { KeyUsageRecord } from './records.js'
import type { UsageEvent, UsageRecorder } from './recorder.js'
import { UnknownKeyCounter } from './unknown-keys.js'
import type { NewAddress } from './write.js'
import { UsageWriter, type WriterEvents } from './writer.js'

export const DEFAULT_FLUSH_INTERVAL_MS = 1_000
export const DEFAULT_RETENTION_DAYS = 400
const DAY_MS = 86_400_000
const PRUNE_INTERVAL_MS = 3_600_000
/** How long close() keeps retrying the last flush before it gives up and logs what is lost. */
const CLOSE_TIMEOUT_MS = 10_000
/** New-address warnings logged per flush; the counter counts them all. */
const MAX_NEW_ADDRESS_LINES = 20

export interface UsageStoreOptions {
  /** SQLite file, or ':memory:' for a database that lives as long as the process. */
  readonly path: string
  readonly flushIntervalMs: number
  readonly retentionDays: number
  readonly policies: PolicyStore
  readonly metrics: Metrics
  readonly logger: Logger
  readonly limits?: AggregateLimits
  /** Milliseconds since the epoch. */
  readonly clock?: () => number
}

/**
 * The usage store on the proxy's thread. record() aggregates in memory; every flush
 * interval the batch goes to the writer thread, which owns the SQLite connection. A batch
 * that fails is merged back and retried with the next one.
 */
export class UsageStore implements UsageRecorder {
  readonly #options: UsageStoreOptions
  readonly #clock: () => number
  readonly #pending: UsageAggregator
  readonly #unknownKeys = new UnknownKeyCounter()
  readonly #lastUsed = new Map<string, number>()
  readonly #addressCounts = new Map<string, number>()
  readonly #revocationsQueued = new Set<string>()
  #writer: UsageWriter
  #timer: NodeJS.Timeout | undefined
  #inFlight: Promise<void> | undefined
  #inFlightOldest: number | undefined
  #revocationGeneration = 0
  #failures = 0
  #droppedSinceFlush = 0
  #closed = false

  private constructor (options: UsageStoreOptions, writer: UsageWriter, stored: KeyUsageRecord[]) {
    this.#options = options
    this.#clock = options.clock ?? Date.now
    this.#writer = writer
    this.#pending = new UsageAggregator(options.limits ?? DEFAULT_AGGREGATE_LIMITS, (kind) => { this.#dropped(kind) })
    for (const key of stored) {
      if (key.lastAllowed !== undefined) this.#lastUsed.set(key.keyId, key.lastAllowed)
      this.#addressCounts.set(key.keyId, key.addresses)
    }
  }

  /**
   * Opens the database on a writer thread, applies migrations and starts the flush timer.
   * Rejects with UsageDbError when the database cannot be written.
   */
  static async open (options: UsageStoreOptions): Promise<UsageStore> {
    const { writer, keys } = await UsageWriter.start(writerConfig(options), writerEvents(options.logger))
    const store = new UsageStore(options, writer, keys)
    store.#timer = setInterval(() => { void store.flush() }, options.flushIntervalMs).unref()
    options.metrics.usage.source = store.#gaugeSource()
    return store
  }

  record (event: UsageEvent): void {
    this.#pending.add(event)
    if (event.keyId !== undefined && event.outcome === 'allowed') {
      this.#lastUsed.set(event.keyId, Math.max(this.#lastUsed.get(event.keyId) ?? 0, event.time))
    }
    if (event.reason === 'unknown_key') {
      this.#options.metrics.usage.unknownKeyAttempts.inc()
      if (event.address !== undefined) this.#unknownKeys.add(event.address, event.time)
    }
  }

  /** Writes what is pending, unless a write is already running; resolves when it is done. Never rejects. */
  async flush (): Promise<void> {
    if (this.#inFlight !== undefined) return await this.#inFlight
    this.#queueRevocations()
    if (this.#pending.isEmpty) return
    this.#inFlight = this.#writeBatch(this.#pending.take()).finally(() => { this.#inFlight = undefined })
    return await this.#inFlight
  }

  /** Returns the usage of every key in the database. Rejects when the writer thread cannot respond. */
  async keys (): Promise<KeyUsageRecord[]> {
    return await (await this.#runningWriter()).request({ type: 'keys' })
  }

  async key (keyId: string, eventLimit = 100): Promise<KeyDetail> {
    return await (await this.#runningWriter()).request({ type: 'key', keyId, eventLimit })
  }

  /** Deletes records older than the retention period now; the writer thread also does it hourly. */
  async prune (): Promise<number> {
    return await (await this.#runningWriter()).request({ type: 'prune', now: this.#clock() })
  }

  /** Stops the timer, writes what is pending (retrying for up to 10 s), and stops the writer thread. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    const deadline = this.#clock() + CLOSE_TIMEOUT_MS
    await this.flush()
    while (!this.#pending.isEmpty && this.#clock() < deadline) {
      await sleep(Math.min(this.#options.flushIntervalMs, 250))
      await this.flush()
    }
    if (!this.#pending.isEmpty) {
      this.#options.logger.error({ records: batchSize(this.#pending.take()), usage_db: this.#options.path }, 'usage records not written before exit')
    }
    await this.#writer.close()
  }

  async #writeBatch (batch: Batch): Promise<void> {
    this.#inFlightOldest = batch.oldest
    const started = performance.now()
    try {
      const result = await (await this.#runningWriter()).request({ type: 'flush', batch })
      this.#options.metrics.usage.flushDuration.observe((performance.now() - started) / 1000)
      this.#options.metrics.usage.lastFlush.set(this.#clock() / 1000)
      if (result.reopened) this.#options.logger.warn({ usage_db: this.#options.path }, 'usage database file was deleted or replaced; writing to a new one')
      for (const [keyId, count] of result.addressCounts) this.#addressCounts.set(keyId, count)
      this.#reportNewAddresses(result.newAddresses)
      this.#recovered()
    } catch (err) {
      this.#pending.mergeBack(batch)
      this.#failed(err, batch)
    } finally {
      this.#inFlightOldest = undefined
      this.#reportDropped()
    }
  }

  /** Returns the writer thread, started again when it stopped. */
  async #runningWriter (): Promise<UsageWriter> {
    if (this.#writer.running) return this.#writer
    const { writer } = await UsageWriter.start(writerConfig(this.#options), writerEvents(this.#options.logger))
    this.#writer = writer
    this.#options.logger.info({ usage_db: this.#options.path }, 'usage writer thread started again')
    return writer
  }

  #failed (err: unknown, batch: Batch): void {
    this.#failures++
    this.#options.metrics.usage.flushErrors.inc()
    this.#options.logger.error({
      err_code: errorCode(err),
      err_message: (err as Error).message,
      usage_db: this.#options.path,
      records: batchSize(batch),
      failed_flushes: this.#failures
    }, 'writing usage records failed; they are kept and retried at the next flush')
  }

  #recovered (): void {
    if (this.#failures === 0) return
    this.#options.logger.info({ failed_flushes: this.#failures, usage_db: this.#options.path }, 'usage records written again after failed flushes')
    this.#failures = 0
  }

  #dropped (kind: DroppedKind): void {
    this.#droppedSinceFlush++
    this.#options.metrics.usage.dropped.inc({ kind })
  }

  #reportDropped (): void {
    if (this.#droppedSinceFlush === 0) return
    this.#options.logger.error({ dropped: this.#droppedSinceFlush, usage_db: this.#options.path }, 'usage buffer full: records dropped since the last flush')
    this.#droppedSinceFlush = 0
  }

  #reportNewAddresses (addresses: readonly NewAddress[]): void {
    for (const [index, { keyId, address, time, requestId }] of addresses.entries()) {
      this.#options.metrics.usage.newAddresses.inc({ key_id: keyId })
      if (index >= MAX_NEW_ADDRESS_LINES) continue
      this.#options.logger.warn({ key_id: keyId, client: address, first_seen: new Date(time).toISOString(), request_id: requestId }, 'new source address for key')
    }
    if (addresses.length > MAX_NEW_ADDRESS_LINES) {
      this.#options.logger.warn({ more: addresses.length - MAX_NEW_ADDRESS_LINES }, 'more new source addresses in this flush than logged; see /usage')
    }
  }

  /** Queues each revocation of the policy once, whatever wrote it to the file. */
  #queueRevocations (): void {
    const { policies } = this.#options
    if (policies.generation === this.#revocationGeneration) return
    this.#revocationGeneration = policies.generation
    for (const key of policies.current.keys) {
      if (key.revoked === undefined) continue
      const id = key.id + '\0' + key.revoked.at
      if (this.#revocationsQueued.has(id)) continue
      this.#revocationsQueued.add(id)
      this.#pending.addRevocation({ keyId: key.id, at: key.revoked.at, reason: key.revoked.reason })
    }
  }

  #gaugeSource (): NonNullable<Metrics['usage']['source']> {
    const keys = (): readonly { id: string, expires: number | undefined }[] => this.#options.policies.current.keys
    return {
      keyExpiries: () => keys().flatMap((key) => key.expires === undefined ? [] : [[key.id, key.expires] as const]),
      keyLastUsed: () => keys().flatMap((key) => {
        const time = this.#lastUsed.get(key.id)
        return time === undefined ? [] : [[key.id, time] as const]
      }),
      keyAddresses: () => keys().map((key) => [key.id, this.#addressCounts.get(key.id) ?? 0] as const),
      unknownKeyMaxPerAddress: () => this.#unknownKeys.maxPerAddress(this.#clock()),
      flushLagSeconds: () => {
        const oldest = Math.min(this.#pending.oldest ?? Infinity, this.#inFlightOldest ?? Infinity)
        return oldest === Infinity ? 0 : Math.max(0, this.#clock() - oldest) / 1000
      }
    }
  }
}

function writerConfig (options: UsageStoreOptions): WriterConfig {
  return { path: options.path, retentionMs: options.retentionDays * DAY_MS, pruneIntervalMs: PRUNE_INTERVAL_MS }
}

function writerEvents (logger: Logger): WriterEvents {
  return {
    onPrune: (result) => {
      if ('error' in result) logger.error({ err_code: result.error.code, err_message: result.error.message }, 'pruning old usage records failed; retried in an hour')
      else if (result.deleted > 0) logger.info({ deleted: result.deleted }, 'pruned usage records older than the retention period')
    },
    onExit: (err) => {
      logger.error({ err_message: err.message }, 'usage writer thread stopped; it is started again at the next flush')
    }
  }
}

async function sleep (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
