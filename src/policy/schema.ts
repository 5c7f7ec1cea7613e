import { findUnknownProfiles, profileNameValue, profilesValue, sensitiveListValue, NO_SENSITIVE_CATEGORIES } from '../acl/policy-fields.js'
import { BUILT_IN_PROFILES } from '../acl/builtin.js'
import type { Profile } from '../acl/profile.js'
import type { AddressSet } from '../net/address.js'
import type { SensitiveCategory } from '../route/types.js'
import {
  addressListValue, booleanValue, exactly, matching, nonEmptyText, stringMappingValue, timestampValue
} from './checks.js'
import { joinField, mappingOf, optional, required, withDefault, type FieldTable, type Issue } from './fields.js'
import { keyListOf } from './keys.js'
import type { KeyEntry } from './types.js'
import { upstreamKeyValue } from './upstream.js'

// One table per object of the policy file. A field is accepted only when misp-keygate
// enforces it, so a new field is added here together with the code that enforces it.

export const KEY_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/
export const KEY_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/

export interface RevokedFields {
  at: number
  reason: string
}

export interface KeyFields {
  id: string
  owner: string
  purpose: string
  hash: string
  allowed_ips: AddressSet
  expires: number | undefined
  not_before: number | undefined
  read_only: boolean
  upstream_key: string | undefined
  profile: string | undefined
  allow_sensitive: ReadonlySet<SensitiveCategory>
  revoked: RevokedFields | undefined
  replaces: string | undefined
  labels: Readonly<Record<string, string>>
}

export interface PolicyFields {
  version: 1
  keys: readonly KeyEntry[]
  /** The built-in profiles and those of the file, compiled. */
  profiles: ReadonlyMap<string, Profile>
}

const REVOKED_FIELDS: FieldTable<RevokedFields> = {
  at: required(timestampValue, 'at: 2026-12-02T10:00:00Z'),
  reason: required(nonEmptyText('why the key was revoked, such as leaked in CI log'), 'reason: leaked in CI log')
}

const revokedValue = mappingOf('revoked', REVOKED_FIELDS, (revoked, field, context) => {
  if (revoked.at <= context.now) return []
  return [{ field: joinField(field, 'at'), message: `is in the future (${new Date(revoked.at).toISOString()}, the load time is ${new Date(context.now).toISOString()}). Set it to the time the key was revoked` }]
})

export const KEY_FIELDS: FieldTable<KeyFields> = {
  id: required(matching(KEY_ID_PATTERN, 'a lowercase letter or digit followed by up to 63 of a-z, 0-9, ".", "_" and "-"', { quoteValue: true }), 'id: siem-pull'),
  owner: required(nonEmptyText('who is responsible for the key, such as soc@example.org'), 'owner: soc@example.org'),
  purpose: required(nonEmptyText('what the key is used for, such as Hourly indicator pull'), 'purpose: Hourly indicator pull'),
  // The value is not quoted back: a key pasted here by mistake must not reach a log.
  hash: required(matching(KEY_HASH_PATTERN, '"sha256:" and the 64 lowercase hex digits of the SHA-256 of the key', { quoteValue: false }), 'hash: sha256:<64 lowercase hex digits>'),
  allowed_ips: required(addressListValue, 'allowed_ips: [192.0.2.10, 198.51.100.0/24]'),
  expires: optional(timestampValue),
  not_before: optional(timestampValue),
  read_only: withDefault(booleanValue, true),
  upstream_key: optional(upstreamKeyValue),
  profile: optional(profileNameValue),
  allow_sensitive: withDefault(sensitiveListValue, NO_SENSITIVE_CATEGORIES),
  revoked: optional(revokedValue),
  // The id of the key this one succeeds in a rotation; that key may since have been removed.
  replaces: optional(matching(KEY_ID_PATTERN, 'the id of the key this one replaces, such as siem-pull', { quoteValue: true })),
  labels: withDefault(stringMappingValue, Object.freeze({}))
}

export const keyValue = mappingOf('a key', KEY_FIELDS, checkValidityWindow)

function checkValidityWindow (key: KeyFields, field: string): Issue[] {
  if (key.not_before === undefined || key.expires === undefined || key.not_before < key.expires) return []
  return [{ field: joinField(field, 'not_before'), message: `must be earlier than expires (not_before is ${new Date(key.not_before).toISOString()}, expires is ${new Date(key.expires).toISOString()}), or the key is never valid. Fix one of the two` }]
}

export const POLICY_FIELDS: FieldTable<PolicyFields> = {
  version: required(exactly(1, '1, the only policy format version this misp-keygate reads'), 'version: 1'),
  keys: required(keyListOf(keyValue, KEY_ID_PATTERN, KEY_HASH_PATTERN), 'keys: []'),
  profiles: withDefault(profilesValue, BUILT_IN_PROFILES)
}

export const policyValue = mappingOf('the policy file', POLICY_FIELDS, (policy) => findUnknownProfiles(policy.keys, policy.profiles))
