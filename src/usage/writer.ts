import { Worker } from 'node:worker_threads'
import { UsageDbError, type UsageDbErrorCode } from './errors.js'
import type { WriterConfig, WriterRequest, WriterResponse, WriterResults } from './protocol.js'
import type { KeyUsageRecord } from './records.js'

type Pending = { resolve: (value: unknown) => void, reject: (err: Error) => void }
type RequestBody = WriterRequest extends infer R ? R extends { id: number } ? Omit<R, 'id'> : never : never

/** An error the writer thread reported for one request: SQLITE_BUSY, SQLITE_FULL, ENOENT... */
export class WriterError extends Error {
  override readonly name = 'WriterError'
  readonly code: string

  constructor (code: string, message: string) {
    super(message)
    this.code = code
  }
}

export interface WriterEvents {
  /** The background prune finished or failed. */
  onPrune (result: { deleted: number } | { error: WriterError }): void
  /** The thread stopped without being closed; requests in flight were rejected. */
  onExit (err: Error): void
}

/** The proxy's handle on the usage writer thread: every call is a message with an asynchronous response. */
export class UsageWriter {
  readonly #worker: Worker
  readonly #pending = new Map<number, Pending>()
  readonly #events: WriterEvents
  #nextId = 1
  #closing = false
  #exited = false

  private constructor (worker: Worker, events: WriterEvents) {
    this.#worker = worker
    this.#events = events
  }

  /**
   * Starts the thread and waits until it has opened and migrated the database. Rejects with
   * UsageDbError when the database cannot be written. Returns the usage stored so far.
   */
  static async start (config: WriterConfig, events: WriterEvents): Promise<{ writer: UsageWriter, keys: KeyUsageRecord[] }> {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: config })
    const writer = new UsageWriter(worker, events)
    const keys = await new Promise<KeyUsageRecord[]>((resolve, reject) => {
      worker.once('message', (message: WriterResponse) => {
        if (message.type === 'ready') resolve(message.keys)
        else if (message.type === 'failed') reject(new UsageDbError(message.code as UsageDbErrorCode, message.message))
        else reject(new Error(`usage writer sent ${message.type} before it was ready`))
      })
      worker.once('error', reject)
    }).catch(async (err: unknown) => {
      await worker.terminate()
      throw err
    })
    writer.#listen()
    // Idle, the thread must not keep the process alive: a start-up error after this point
    // would otherwise leave the process hanging. request() holds a reference while it waits.
    worker.unref()
    return { writer, keys }
  }

  get running (): boolean {
    return !this.#exited
  }

  async request<T extends RequestBody['type']> (body: Extract<RequestBody, { type: T }>): Promise<WriterResults[T]> {
    if (this.#exited) throw new WriterError('WRITER_STOPPED', 'the usage writer thread has stopped')
    const id = this.#nextId++
    return await new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref()
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject })
      this.#worker.postMessage({ ...body, id })
    })
  }

  /** Closes the database and stops the thread. */
  async close (): Promise<void> {
    this.#closing = true
    if (!this.#exited) await this.request({ type: 'close' }).catch(() => undefined)
    await this.#worker.terminate()
  }

  #listen (): void {
    this.#worker.on('message', (message: WriterResponse) => { this.#receive(message) })
    this.#worker.on('error', (err) => { this.#stop(err) })
    this.#worker.on('exit', (code) => { this.#stop(new Error(`the usage writer thread exited with code ${code}`)) })
  }

  #receive (message: WriterResponse): void {
    if (message.type === 'pruned') return this.#events.onPrune({ deleted: message.deleted })
    if (message.type === 'prune_failed') return this.#events.onPrune({ error: new WriterError(message.code, message.message) })
    if (message.type !== 'result' && message.type !== 'error') return
    const pending = this.#pending.get(message.id)
    this.#pending.delete(message.id)
    if (this.#pending.size === 0) this.#worker.unref()
    if (message.type === 'result') pending?.resolve(message.result)
    else pending?.reject(new WriterError(message.code, message.message))
  }

  #stop (err: Error): void {
    if (this.#exited) return
    this.#exited = true
    for (const pending of this.#pending.values()) pending.reject(new WriterError('WRITER_STOPPED', err.message))
    this.#pending.clear()
    if (!this.#closing) this.#events.onExit(err)
  }
}
