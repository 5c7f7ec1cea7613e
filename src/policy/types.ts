import type { Profile } from '../acl/profile.js'
import type { AddressSet } from '../net/address.js'
import type { SensitiveCategory } from '../route/types.js'

/** One key of the policy file, validated and with its upstream key resolved. */
export interface KeyEntry {
  readonly id: string
  readonly owner: string
  readonly purpose: string
  /** `sha256:` and 64 lowercase hex digits. */
  readonly hash: string
  readonly allowedIps: AddressSet
  /** Milliseconds since the epoch; the key is expired from this instant on. */
  readonly expires: number | undefined
  /** Milliseconds since the epoch; the key is refused before this instant. */
  readonly notBefore: number | undefined
  readonly readOnly: boolean
  /** The MISP key sent upstream in place of the client's (swap mode). */
  readonly upstreamKey: string | undefined
  /** Name of the ACL profile that narrows the key, a key of `Policy.profiles`. */
  readonly profile: string | undefined
  /** Sensitive route categories the key may reach; empty by default. */
  readonly allowSensitive: ReadonlySet<SensitiveCategory>
  readonly revoked: { readonly at: number, readonly reason: string } | undefined
  /** Id of the key this one succeeds in a rotation (`replaces`). */
  readonly replaces: string | undefined
  readonly labels: Readonly<Record<string, string>>
}

/** A loaded policy. Never mutated after load: a reload builds a new one. */
export interface Policy {
  readonly version: 1
  /** Path of the file it was loaded from. */
  readonly file: string
  readonly keys: readonly KeyEntry[]
  /** Keyed by `KeyEntry.hash`. */
  readonly byDigest: ReadonlyMap<string, KeyEntry>
  /** Built-in and policy-defined ACL profiles, by name. */
  readonly profiles: ReadonlyMap<string, Profile>
}
