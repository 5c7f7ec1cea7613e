import type { KeyEntry } from './types.js'

export type KeyState = 'active' | 'expiring' | 'expired' | 'revoked' | 'not yet valid'

/** A key that expires within this window is listed as expiring: 14 days, as in review. */
export const EXPIRING_WINDOW_MS = 14 * 86_400_000

/** Returns the state of a key at `now` (milliseconds since the epoch), in the order the proxy checks them. */
export function keyState (key: Pick<KeyEntry, 'revoked' | 'notBefore' | 'expires'>, now: number): KeyState {
  if (key.revoked !== undefined) return 'revoked'
  if (key.notBefore !== undefined && now < key.notBefore) return 'not yet valid'
  if (key.expires === undefined) return 'active'
  if (now >= key.expires) return 'expired'
  return key.expires - now <= EXPIRING_WINDOW_MS ? 'expiring' : 'active'
}
