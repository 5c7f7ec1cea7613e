import type { UsageEvent, UsageRecorder } from './recorder.js'

export interface AddressUsage {
  firstSeen: number
  lastSeen: number
  allowed: number
  denied: number
}

export interface KeyUsage {
  readonly keyId: string
  firstUsed: number
  lastUsed: number
  allowed: number
  denied: number
  readonly addresses: Map<string, AddressUsage>
  /** Addresses not tracked because the key already had MAX_ADDRESSES_PER_KEY. */
  untrackedAddresses: number
}

/** Bounds memory when a leaked key is tried from very many addresses. */
export const MAX_ADDRESSES_PER_KEY = 10_000

/** Usage per key since the process started, aggregated in memory. */
export class UsageMemory implements UsageRecorder {
  readonly #keys = new Map<string, KeyUsage>()

  record (event: UsageEvent): void {
    if (event.keyId === undefined) return
    const usage = this.#keyUsage(event.keyId, event.time)
    const allowed = event.outcome === 'allowed' ? 1 : 0
    usage.lastUsed = event.time
    usage.allowed += allowed
    usage.denied += 1 - allowed
    if (event.address !== undefined) this.#recordAddress(usage, event.address, event.time, allowed)
  }

  get (keyId: string): KeyUsage | undefined {
    return this.#keys.get(keyId)
  }

  keys (): IterableIterator<KeyUsage> {
    return this.#keys.values()
  }

  #keyUsage (keyId: string, time: number): KeyUsage {
    let usage = this.#keys.get(keyId)
    if (usage === undefined) {
      usage = { keyId, firstUsed: time, lastUsed: time, allowed: 0, denied: 0, addresses: new Map(), untrackedAddresses: 0 }
      this.#keys.set(keyId, usage)
    }
    return usage
  }

  #recordAddress (usage: KeyUsage, address: string, time: number, allowed: number): void {
    let seen = usage.addresses.get(address)
    if (seen === undefined) {
      if (usage.addresses.size >= MAX_ADDRESSES_PER_KEY) {
        usage.untrackedAddresses++
        return
      }
      seen = { firstSeen: time, lastSeen: time, allowed: 0, denied: 0 }
      usage.addresses.set(address, seen)
    }
    seen.lastSeen = time
    seen.allowed += allowed
    seen.denied += 1 - allowed
  }
}

/** JSON form of one key's usage, as the admin listener serves it. */
export function keyUsageJson (usage: KeyUsage): Record<string, unknown> {
  const addresses = [...usage.addresses].map(([address, seen]) => ({
    address,
    first_seen: new Date(seen.firstSeen).toISOString(),
    last_seen: new Date(seen.lastSeen).toISOString(),
    allowed: seen.allowed,
    denied: seen.denied
  }))
  return {
    key_id: usage.keyId,
    first_used: new Date(usage.firstUsed).toISOString(),
    last_used: new Date(usage.lastUsed).toISOString(),
    total: usage.allowed + usage.denied,
    allowed: usage.allowed,
    denied: usage.denied,
    addresses,
    untracked_addresses: usage.untrackedAddresses
  }
}
