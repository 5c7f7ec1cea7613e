import { deny, type Denial } from '../errors.js'
import type { KeyEntry, Policy } from '../policy/types.js'
import type { CanonicalRoute, RouteClass } from '../route/types.js'
import { routeName } from './pattern.js'
import { findMatchingRule } from './profile.js'

/** Applies the key's profile: the first matching rule decides, and no match is a denial. */
export function checkProfile (key: KeyEntry, method: string, route: CanonicalRoute, policy: Policy): Denial | undefined {
  if (key.profile === undefined) return undefined
  const profile = policy.profiles.get(key.profile)
  // The loader rejects unknown profile names, so this only guards a hand-built policy.
  if (profile === undefined) {
    return deny('profile_denied', `The API key "${key.id}" names the profile "${key.profile}", which the policy does not define.`)
  }

  const rule = findMatchingRule(profile, method, routeName(route))
  if (rule?.effect === 'allow') return undefined
  const cause = rule === undefined ? 'no rule of the profile matches' : `the rule "${rule.text}" denies it`
  return deny('profile_denied',
    `The API key "${key.id}" has the profile "${profile.name}", which does not allow ${method} ${route.route}: ${cause}. Ask the MISP administrator to change the key's profile.`)
}

/** Denies a sensitive route unless the key lists its category in `allow_sensitive`. */
export function checkSensitive (key: KeyEntry, method: string, route: CanonicalRoute, routeClass: RouteClass): Denial | undefined {
  if (routeClass.kind !== 'sensitive' || key.allowSensitive.has(routeClass.category)) return undefined
  return deny('sensitive_action',
    `${method} ${route.route} is a sensitive action (category ${routeClass.category}), which the API key "${key.id}" may not perform. Ask the MISP administrator to add ${routeClass.category} to the key's allow_sensitive list if it needs this.`)
}
