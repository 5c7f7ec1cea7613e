import { UsageAggregator, DEFAULT_AGGREGATE_LIMITS } from '../../src/usage/aggregate.js'
import { openWritable } from '../../src/usage/database.js'
import type { UsageEvent } from '../../src/usage/recorder.js'
import { BatchWriter } from '../../src/usage/write.js'

let requestCounter = 0

/** Returns a forwarded GET of events/index from 127.0.0.1 at `time`; `fields` override any part. */
export function usageEvent (keyId: string | undefined, time: number, fields: Partial<UsageEvent> = {}): UsageEvent {
  return {
    time,
    requestId: `request-${++requestCounter}`,
    keyId,
    address: '127.0.0.1',
    method: 'GET',
    route: 'events/index',
    category: undefined,
    routeKind: 'read',
    status: 200,
    reason: undefined,
    outcome: 'allowed',
    ...fields
  }
}

/** Returns a request denied for `reason` with `status`. */
export function deniedEvent (keyId: string | undefined, time: number, reason: string, status: number, fields: Partial<UsageEvent> = {}): UsageEvent {
  return usageEvent(keyId, time, { reason, status, outcome: 'denied', ...fields })
}

/**
 * Writes a usage database created at `createdAt` holding `events`, through the same
 * aggregation and writer as the proxy, in one batch on this thread.
 */
export function writeUsageDb (path: string, createdAt: number, events: readonly UsageEvent[], revocations: ReadonlyArray<{ keyId: string, at: number, reason: string }> = []): void {
  const { db } = openWritable(path, createdAt)
  try {
    const aggregator = new UsageAggregator(DEFAULT_AGGREGATE_LIMITS, (kind) => { throw new Error(`fixture overflowed the ${kind} limit`) })
    for (const event of events) aggregator.add(event)
    for (const revocation of revocations) aggregator.addRevocation(revocation)
    new BatchWriter(db).write(aggregator.take())
  } finally {
    db.close()
  }
}
