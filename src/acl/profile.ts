import { matchesPattern, type RouteName } from './pattern.js'
import { parseRule, ruleAppliesToMethod, type ProfileRule } from './rule.js'

/** A named, ordered list of allow and deny rules. The first rule that matches decides. */
export interface Profile {
  readonly name: string
  /** True for the profiles misp-keygate defines, usable without a `profiles` entry. */
  readonly builtIn: boolean
  readonly rules: readonly ProfileRule[]
}

export type CompiledProfile = { ok: true, profile: Profile } | { ok: false, problems: ReadonlyArray<{ index: number, message: string }> }

/** Compiles every rule of a profile, collecting one problem per invalid rule. */
export function compileProfile (name: string, ruleTexts: readonly string[], builtIn: boolean): CompiledProfile {
  const rules: ProfileRule[] = []
  const problems: Array<{ index: number, message: string }> = []
  for (const [index, text] of ruleTexts.entries()) {
    const parsed = parseRule(text)
    if (parsed.ok) rules.push(parsed.rule)
    else problems.push({ index, message: parsed.message })
  }
  if (problems.length > 0) return { ok: false, problems }
  return { ok: true, profile: Object.freeze({ name, builtIn, rules: Object.freeze(rules) }) }
}

/** Returns the first rule that matches the method and route, or undefined (default deny). */
export function findMatchingRule (profile: Profile, method: string, route: RouteName): ProfileRule | undefined {
  for (const rule of profile.rules) {
    if (ruleAppliesToMethod(rule, method) && matchesPattern(rule.pattern, route)) return rule
  }
  return undefined
}
