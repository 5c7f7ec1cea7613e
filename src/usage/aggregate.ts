import { packBatch, unpackBatch, type AddressDelta, type Batch, type EventDelta, type FirstRequest, type HourlyDelta, type KeyDelta, type KeylessDelta, type RevocationDelta } from './batch.js'
import { HOUR_MS } from './queries.js'
import type { Outcome } from './records.js'
import type { UsageEvent } from './recorder.js'

export interface AggregateLimits {
  /** Address, hourly and keyless rows held at once; key rows are bounded by the policy. */
  readonly maxRows: number
  readonly maxEvents: number
}

/** Sized for about 50 MB of pending records while the database cannot be written. */
export const DEFAULT_AGGREGATE_LIMITS: AggregateLimits = { maxRows: 100_000, maxEvents: 100_000 }

export type DroppedKind = 'address' | 'hourly' | 'keyless' | 'event'

/**
 * Usage not yet written, aggregated in memory on the proxy's thread. `add` runs once per
 * request and does only map updates. Past the limits, new rows and events are dropped and
 * reported to `onDrop`; key totals are never dropped.
 */
export class UsageAggregator {
  readonly #limits: AggregateLimits
  readonly #onDrop: (kind: DroppedKind) => void
  #keys = new Map<string, KeyDelta>()
  #addresses = new Map<string, AddressDelta>()
  #hourly = new Map<string, HourlyDelta>()
  #keyless = new Map<string, KeylessDelta>()
  #events: EventDelta[] = []
  #revocations: RevocationDelta[] = []
  #oldest: number | undefined

  constructor (limits: AggregateLimits, onDrop: (kind: DroppedKind) => void) {
    this.#limits = limits
    this.#onDrop = onDrop
  }

  /** Time of the oldest request held; undefined when empty. */
  get oldest (): number | undefined {
    return this.#oldest
  }

  get isEmpty (): boolean {
    return this.#keys.size === 0 && this.#keyless.size === 0 && this.#revocations.length === 0
  }

  add (event: UsageEvent): void {
    if (this.#oldest === undefined || event.time < this.#oldest) this.#oldest = event.time
    if (event.keyId === undefined) {
      this.#addKeyless(event)
      return
    }
    const outcome = outcomeOf(event)
    this.#addKey(event.keyId, event, outcome)
    if (event.address !== undefined) this.#addAddress(event.keyId, event.address, event, outcome)
    this.#addHourly(event.keyId, event, outcome)
    if (event.category !== undefined || outcome === 'denied') this.#addEvent(event.keyId, event, outcome)
  }

  addRevocation (revocation: RevocationDelta): void {
    this.#revocations.push(revocation)
  }

  /** Returns everything held as a batch and starts empty. */
  take (): Batch {
    const batch = packBatch({
      keys: this.#keys.values(),
      addresses: this.#addresses.values(),
      hourly: this.#hourly.values(),
      keyless: this.#keyless.values(),
      events: this.#events,
      revocations: this.#revocations
    }, this.#oldest)
    this.#keys = new Map()
    this.#addresses = new Map()
    this.#hourly = new Map()
    this.#keyless = new Map()
    this.#events = []
    this.#revocations = []
    this.#oldest = undefined
    return batch
  }

  /** Takes back a batch that could not be written, ahead of what arrived since. */
  mergeBack (batch: Batch): void {
    const rows = unpackBatch(batch)
    for (const key of rows.keys) this.#mergeKey(key)
    for (const address of rows.addresses) this.#mergeAddress(address)
    for (const hourly of rows.hourly) this.#mergeCount(this.#hourly, hourlyId(hourly), hourly, 'hourly')
    for (const keyless of rows.keyless) this.#mergeCount(this.#keyless, keylessId(keyless), keyless, 'keyless')
    const room = Math.max(0, this.#limits.maxEvents - this.#events.length)
    for (let i = room; i < rows.events.length; i++) this.#onDrop('event')
    this.#events = [...rows.events.slice(0, room), ...this.#events]
    this.#revocations = [...rows.revocations, ...this.#revocations]
    if (batch.oldest !== undefined && (this.#oldest === undefined || batch.oldest < this.#oldest)) this.#oldest = batch.oldest
  }

  #rowCount (): number {
    return this.#addresses.size + this.#hourly.size + this.#keyless.size
  }

  #addKey (keyId: string, event: UsageEvent, outcome: Outcome): void {
    let key = this.#keys.get(keyId)
    if (key === undefined) {
      key = { keyId, firstUsed: event.time, lastUsed: event.time, lastAllowed: undefined, lastWrite: undefined, allowed: 0, denied: 0, errors: 0, ...firstRequest(event) }
      this.#keys.set(keyId, key)
    }
    key.lastUsed = Math.max(key.lastUsed, event.time)
    if (outcome === 'denied') {
      key.denied++
      return
    }
    if (outcome === 'allowed') key.allowed++
    else key.errors++
    key.lastAllowed = Math.max(key.lastAllowed ?? 0, event.time)
    if (event.routeKind !== undefined && event.routeKind !== 'read') key.lastWrite = Math.max(key.lastWrite ?? 0, event.time)
  }

  #addAddress (keyId: string, address: string, event: UsageEvent, outcome: Outcome): void {
    const id = keyId + '\0' + address
    let row = this.#addresses.get(id)
    if (row === undefined) {
      if (this.#rowCount() >= this.#limits.maxRows) return this.#onDrop('address')
      row = { keyId, address, firstSeen: event.time, lastSeen: event.time, allowed: 0, denied: 0, ...firstRequest(event) }
      this.#addresses.set(id, row)
    }
    row.lastSeen = Math.max(row.lastSeen, event.time)
    if (outcome === 'denied') row.denied++
    else row.allowed++
  }

  #addHourly (keyId: string, event: UsageEvent, outcome: Outcome): void {
    const hour = event.time - (event.time % HOUR_MS)
    const address = event.address ?? ''
    const route = event.route ?? ''
    const id = keyId + '\0' + hour + '\0' + address + '\0' + route + '\0' + outcome
    const row = this.#hourly.get(id)
    if (row !== undefined) {
      row.requests++
      return
    }
    if (this.#rowCount() >= this.#limits.maxRows) return this.#onDrop('hourly')
    this.#hourly.set(id, { keyId, hour, address, route, kind: event.routeKind ?? '', outcome, requests: 1 })
  }

  #addKeyless (event: UsageEvent): void {
    const hour = event.time - (event.time % HOUR_MS)
    const address = event.address ?? ''
    const reason = event.reason ?? ''
    const id = hour + '\0' + address + '\0' + reason
    const row = this.#keyless.get(id)
    if (row !== undefined) {
      row.requests++
      return
    }
    if (this.#rowCount() >= this.#limits.maxRows) return this.#onDrop('keyless')
    this.#keyless.set(id, { hour, address, reason, requests: 1 })
  }

  #addEvent (keyId: string, event: UsageEvent, outcome: Outcome): void {
    if (this.#events.length >= this.#limits.maxEvents) return this.#onDrop('event')
    this.#events.push({
      time: event.time,
      type: event.category !== undefined ? 'sensitive' : 'denial',
      keyId,
      address: event.address,
      method: event.method,
      route: event.route,
      status: event.status,
      requestId: event.requestId,
      outcome,
      reason: event.reason,
      category: event.category
    })
  }

  #mergeKey (delta: KeyDelta): void {
    const key = this.#keys.get(delta.keyId)
    if (key === undefined) {
      this.#keys.set(delta.keyId, delta)
      return
    }
    if (delta.firstUsed < key.firstUsed) {
      key.firstUsed = delta.firstUsed
      copyFirstRequest(key, delta)
    }
    key.lastUsed = Math.max(key.lastUsed, delta.lastUsed)
    key.lastAllowed = latest(key.lastAllowed, delta.lastAllowed)
    key.lastWrite = latest(key.lastWrite, delta.lastWrite)
    key.allowed += delta.allowed
    key.denied += delta.denied
    key.errors += delta.errors
  }

  #mergeAddress (delta: AddressDelta): void {
    const id = delta.keyId + '\0' + delta.address
    const row = this.#addresses.get(id)
    if (row === undefined) {
      if (this.#rowCount() >= this.#limits.maxRows) return this.#onDrop('address')
      this.#addresses.set(id, delta)
      return
    }
    if (delta.firstSeen < row.firstSeen) {
      row.firstSeen = delta.firstSeen
      copyFirstRequest(row, delta)
    }
    row.lastSeen = Math.max(row.lastSeen, delta.lastSeen)
    row.allowed += delta.allowed
    row.denied += delta.denied
  }

  #mergeCount<T extends { requests: number }> (map: Map<string, T>, id: string, delta: T, kind: DroppedKind): void {
    const row = map.get(id)
    if (row !== undefined) {
      row.requests += delta.requests
      return
    }
    if (this.#rowCount() >= this.#limits.maxRows) return this.#onDrop(kind)
    map.set(id, delta)
  }
}

/** Denied by the proxy, forwarded, or forwarded and failed on the way to MISP (a reason without a denial). */
function outcomeOf (event: UsageEvent): Outcome {
  if (event.outcome === 'denied') return 'denied'
  return event.reason === undefined ? 'allowed' : 'error'
}

function firstRequest (event: UsageEvent): FirstRequest {
  return { firstAddress: event.address, firstMethod: event.method, firstRoute: event.route, firstStatus: event.status, firstRequestId: event.requestId }
}

function copyFirstRequest (target: FirstRequest, source: FirstRequest): void {
  target.firstAddress = source.firstAddress
  target.firstMethod = source.firstMethod
  target.firstRoute = source.firstRoute
  target.firstStatus = source.firstStatus
  target.firstRequestId = source.firstRequestId
}

function hourlyId (row: HourlyDelta): string {
  return row.keyId + '\0' + row.hour + '\0' + row.address + '\0' + row.route + '\0' + row.outcome
}

function keylessId (row: KeylessDelta): string {
  return row.hour + '\0' + row.address + '\0' + row.reason
}

function latest (a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  return Math.max(a, b)
}
