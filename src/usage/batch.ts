import type { EventType, Outcome, RouteKind } from './records.js'

// A batch is plain data (arrays of objects) so it crosses to the writer thread by
// structured clone. Every part merges by addition, minimum and maximum, so a batch that
// failed to write can be merged back into the next one in any order.

/** The request behind a first-use or new-address event. */
export interface RequestRef {
  readonly time: number
  readonly address: string | undefined
  readonly method: string
  readonly route: string | undefined
  readonly status: number
  readonly requestId: string
}

export interface KeyDelta {
  readonly keyId: string
  firstUsed: number
  lastUsed: number
  lastAllowed: number | undefined
  lastWrite: number | undefined
  allowed: number
  denied: number
  errors: number
  first: RequestRef
}

export interface AddressDelta {
  readonly keyId: string
  readonly address: string
  firstSeen: number
  lastSeen: number
  allowed: number
  denied: number
  first: RequestRef
}

export interface HourlyDelta {
  readonly keyId: string
  readonly hour: number
  readonly address: string
  readonly route: string
  readonly kind: RouteKind
  readonly outcome: Outcome
  requests: number
}

export interface KeylessDelta {
  readonly hour: number
  readonly address: string
  readonly reason: string
  requests: number
}

/** A denial or a sensitive request, written as one row of the events table. */
export interface EventDelta {
  readonly time: number
  readonly type: Extract<EventType, 'denial' | 'sensitive'>
  readonly keyId: string
  readonly address: string | undefined
  readonly method: string
  readonly route: string | undefined
  readonly status: number
  readonly requestId: string
  readonly outcome: Outcome
  readonly reason: string | undefined
  readonly category: string | undefined
}

/** A revocation as the policy states it; written once per key and time. */
export interface RevocationDelta {
  readonly keyId: string
  readonly at: number
  readonly reason: string
}

export interface Batch {
  readonly keys: KeyDelta[]
  readonly addresses: AddressDelta[]
  readonly hourly: HourlyDelta[]
  readonly keyless: KeylessDelta[]
  readonly events: EventDelta[]
  readonly revocations: RevocationDelta[]
  /** Time of the oldest request in the batch; undefined when it holds none. */
  readonly oldest: number | undefined
}

export function emptyBatch (): Batch {
  return { keys: [], addresses: [], hourly: [], keyless: [], events: [], revocations: [], oldest: undefined }
}

/** Number of records in a batch, for logs. */
export function batchSize (batch: Batch): number {
  return batch.keys.length + batch.addresses.length + batch.hourly.length + batch.keyless.length + batch.events.length + batch.revocations.length
}
