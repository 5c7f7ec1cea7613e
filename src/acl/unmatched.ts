import { catalogueRoutes } from '../route/catalogue.js'
import type { Policy } from '../policy/types.js'
import { controllerKey, matchesPattern, type RouteName } from './pattern.js'

/** A profile rule whose pattern matches no route of the catalogue: likely a misspelt name. */
export interface RuleWarning {
  readonly profile: string
  /** Position of the rule in the profile's `rules` list. */
  readonly index: number
  readonly rule: string
  /** Names the profile, quotes the rule and tells what to check. */
  readonly message: string
}

let catalogueNames: readonly RouteName[] | undefined

/**
 * Lists the rules of the policy's own profiles whose pattern matches no catalogue route.
 * Such a rule still applies to routes outside the catalogue, which MISP may add later,
 * so this is a warning, not a load error.
 */
export function findUnmatchedRules (policy: Pick<Policy, 'profiles'>): RuleWarning[] {
  const warnings: RuleWarning[] = []
  for (const profile of policy.profiles.values()) {
    if (profile.builtIn) continue
    for (const [index, rule] of profile.rules.entries()) {
      if (listCatalogueNames().some((route) => matchesPattern(rule.pattern, route))) continue
      warnings.push({ profile: profile.name, index, rule: rule.text, message: describeUnmatched(profile.name, index, rule.text) })
    }
  }
  return warnings
}

function describeUnmatched (profile: string, index: number, rule: string): string {
  return `profile "${profile}", rules[${index}]: the rule ${JSON.stringify(rule)} matches no route that misp-keygate knows. ` +
    'Check the controller and action names against MISP\'s API (controller/action, as in /events/restSearch)'
}

function listCatalogueNames (): readonly RouteName[] {
  catalogueNames ??= catalogueRoutes().map(parseCatalogueRoute)
  return catalogueNames
}

function parseCatalogueRoute (route: string): RouteName {
  const segments = route.split('/')
  const admin = segments[0] === 'admin'
  const [controller = '', action = ''] = admin ? segments.slice(1) : segments
  return { admin, controller: controllerKey(controller), action: action.toLowerCase() }
}
