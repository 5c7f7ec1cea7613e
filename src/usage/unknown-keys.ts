import { LRUCache } from 'lru-cache'

/** Addresses tracked at once; the least recently seen is forgotten first. */
const MAX_ADDRESSES = 10_000
const BUCKET_MS = 10_000
/** Six buckets of ten seconds: the window is the current bucket and the five before it. */
const BUCKETS = 6

interface AddressCounts {
  /** Bucket number (time / BUCKET_MS) that each slot counts. */
  readonly buckets: Float64Array
  readonly counts: Uint32Array
}

/**
 * Counts unknown-key requests per client address over the last 50 to 60 seconds, in a
 * bounded LRU map, so a burst from one source shows in a gauge without an address label.
 * An address forgotten under pressure from more than MAX_ADDRESSES others restarts at zero.
 */
export class UnknownKeyCounter {
  readonly #addresses = new LRUCache<string, AddressCounts>({ max: MAX_ADDRESSES })

  add (address: string, now: number): void {
    let entry = this.#addresses.get(address)
    if (entry === undefined) {
      entry = { buckets: new Float64Array(BUCKETS).fill(-1), counts: new Uint32Array(BUCKETS) }
      this.#addresses.set(address, entry)
    }
    const bucket = Math.floor(now / BUCKET_MS)
    const slot = bucket % BUCKETS
    if (entry.buckets[slot] !== bucket) {
      entry.buckets[slot] = bucket
      entry.counts[slot] = 0
    }
    entry.counts[slot]!++
  }

  /** Returns the highest count of any one address within the window ending at `now`. */
  maxPerAddress (now: number): number {
    const oldest = Math.floor(now / BUCKET_MS) - BUCKETS + 1
    let max = 0
    for (const entry of this.#addresses.values()) {
      let sum = 0
      for (let slot = 0; slot < BUCKETS; slot++) {
        if ((entry.buckets[slot] as number) >= oldest) sum += entry.counts[slot] as number
      }
      if (sum > max) max = sum
    }
    return max
  }
}
