import { accept, describeValue, isMapping, joinField, mappingOf, quoteName, reject, required, type Check, type Issue } from '../policy/fields.js'
import { findClosestName } from '../policy/suggest.js'
import type { KeyEntry } from '../policy/types.js'
import { SENSITIVE_CATEGORIES } from '../route/catalogue.js'
import type { SensitiveCategory } from '../route/types.js'
import { BUILT_IN_PROFILES } from './builtin.js'
import { compileProfile, type Profile } from './profile.js'

// Checks for the policy fields of ACL profiles: the top-level `profiles` mapping, and the
// `profile` and `allow_sensitive` fields of a key.

export const PROFILE_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/
const PROFILE_NAME_RULE = 'a lowercase letter or digit followed by up to 63 of a-z, 0-9, ".", "_" and "-"'

interface ProfileFields {
  rules: readonly string[]
}

const ruleListValue: Check<readonly string[]> = (value, field) => {
  if (!Array.isArray(value) || value.length === 0) {
    return reject(field, `must be a non-empty list of rules such as ["allow GET,HEAD events/view", "deny * *"], got ${describeValue(value)}`)
  }
  const issues: Issue[] = value.flatMap((rule, index) => typeof rule === 'string'
    ? []
    : [{ field: `${field}[${index}]`, message: `must be a rule written as text, such as "allow GET events/view", got ${describeValue(rule)}` }])
  return issues.length === 0 ? accept(value as string[]) : { ok: false, issues }
}

const profileValue = mappingOf<ProfileFields>('a profile', {
  rules: required(ruleListValue, 'rules: ["allow POST events/restSearch"]')
})

/** Checks `profiles` and compiles it. The result also contains the built-in profiles. */
export const profilesValue: Check<ReadonlyMap<string, Profile>> = (value, field, context) => {
  if (!isMapping(value)) return reject(field, `must be a mapping of profile names to { rules: [...] }, got ${describeValue(value)}`)

  const profiles = new Map(BUILT_IN_PROFILES)
  const issues: Issue[] = []
  for (const [name, definition] of Object.entries(value)) {
    const compiled = checkProfile(name, definition, joinField(field, name), context)
    if (compiled.ok) profiles.set(name, compiled.value)
    else issues.push(...compiled.issues)
  }
  return issues.length === 0 ? accept(profiles) : { ok: false, issues }
}

/** Checks the text of a key's `profile`. findUnknownProfiles checks that the profile exists. */
export const profileNameValue: Check<string> = (value, field) => {
  if (typeof value === 'string' && PROFILE_NAME_PATTERN.test(value)) return accept(value)
  return reject(field, `must be the name of a profile, ${PROFILE_NAME_RULE}, got ${describeValue(value)}`)
}

/** Checks `allow_sensitive`: a list of sensitive categories of the route catalogue. */
export const sensitiveListValue: Check<ReadonlySet<SensitiveCategory>> = (value, field) => {
  if (!Array.isArray(value)) {
    return reject(field, `must be a list of sensitive categories such as [users, auth_keys], got ${describeValue(value)}`)
  }
  const issues: Issue[] = []
  for (const [index, entry] of value.entries()) {
    if (typeof entry === 'string' && (SENSITIVE_CATEGORIES as readonly string[]).includes(entry)) continue
    issues.push({ field: `${field}[${index}]`, message: describeUnknownCategory(entry) })
  }
  return issues.length === 0 ? accept(Object.freeze(new Set(value as SensitiveCategory[]))) : { ok: false, issues }
}

export const NO_SENSITIVE_CATEGORIES: ReadonlySet<SensitiveCategory> = Object.freeze(new Set<SensitiveCategory>())

/** Returns an issue for each key whose `profile` is neither built in nor defined in `profiles`. */
export function findUnknownProfiles (keys: readonly KeyEntry[], profiles: ReadonlyMap<string, Profile>): Issue[] {
  const names = [...profiles.keys()]
  return keys.flatMap((key, index) => {
    if (key.profile === undefined || profiles.has(key.profile)) return []
    const closest = findClosestName(key.profile, names)
    const hint = closest === undefined ? '' : ` Did you mean ${quoteName(closest)}?`
    const message = `names the profile ${quoteName(key.profile)}, which is neither built in (${[...BUILT_IN_PROFILES.keys()].join(', ')}) nor defined under profiles.${hint}`
    return [{ index, keyId: key.id, field: 'profile', message }]
  })
}

function checkProfile (name: string, definition: unknown, field: string, context: Parameters<Check<Profile>>[2]): ReturnType<Check<Profile>> {
  if (!PROFILE_NAME_PATTERN.test(name)) return reject(field, `is not a valid profile name: write ${PROFILE_NAME_RULE}`)
  if (BUILT_IN_PROFILES.has(name)) {
    return reject(field, `redefines the built-in profile ${quoteName(name)}. Use it without defining it, or give your profile another name`)
  }
  const checked = profileValue(definition, field, context)
  if (!checked.ok) return checked

  const compiled = compileProfile(name, checked.value.rules, false)
  if (compiled.ok) return accept(compiled.profile)
  return { ok: false, issues: compiled.problems.map(({ index, message }) => ({ field: `${joinField(field, 'rules')}[${index}]`, message })) }
}

function describeUnknownCategory (entry: unknown): string {
  const categories = SENSITIVE_CATEGORIES.join(', ')
  if (typeof entry !== 'string') return `must be a sensitive category (${categories}), got ${describeValue(entry)}`
  const closest = findClosestName(entry, SENSITIVE_CATEGORIES)
  const hint = closest === undefined ? '' : ` Did you mean ${quoteName(closest)}?`
  return `is not a sensitive category: ${quoteName(entry)}. The categories are ${categories}.${hint}`
}
