import { parsePattern, type RoutePattern } from './pattern.js'

export type RuleEffect = 'allow' | 'deny'

/** One profile rule, compiled: `allow POST events/restSearch`. */
export interface ProfileRule {
  /** The rule as written in the policy, quoted in messages. */
  readonly text: string
  readonly effect: RuleEffect
  /** Undefined for `*`: every method. */
  readonly methods: ReadonlySet<string> | undefined
  readonly pattern: RoutePattern
}

export type ParsedRule = { ok: true, rule: ProfileRule } | { ok: false, message: string }

/** The methods the proxy forwards; a rule naming another could never match. */
export const RULE_METHODS: readonly string[] = Object.freeze(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])

const RULE_FORM = 'write "allow|deny METHODS PATTERN", such as "allow GET,HEAD events/view"'

/** Parses and compiles one rule; messages quote the rule and say how to fix it. */
export function parseRule (text: string): ParsedRule {
  const words = text.trim().split(/\s+/)
  const [effect, methods, pattern] = words
  if (words.length !== 3 || effect === undefined || methods === undefined || pattern === undefined) {
    return invalid(text, `has ${words.length} word(s), not 3; ${RULE_FORM}`)
  }
  if (effect !== 'allow' && effect !== 'deny') {
    return invalid(text, `starts with "${effect}"; a rule starts with allow or deny, in lowercase`)
  }

  const methodSet = parseMethods(methods)
  if (typeof methodSet === 'string') return invalid(text, methodSet)
  const parsed = parsePattern(pattern)
  if (!parsed.ok) return invalid(text, parsed.message)
  return { ok: true, rule: Object.freeze({ text, effect, methods: methodSet, pattern: parsed.pattern }) }
}

export function ruleAppliesToMethod (rule: ProfileRule, method: string): boolean {
  return rule.methods === undefined || rule.methods.has(method)
}

/** Returns the method set, undefined for `*`, or a message naming the invalid method. */
function parseMethods (text: string): ReadonlySet<string> | undefined | string {
  if (text === '*') return undefined
  const methods = text.split(',')
  const unknown = methods.find((method) => !RULE_METHODS.includes(method))
  if (unknown !== undefined) {
    return `names the method "${unknown}"; write one of ${RULE_METHODS.join(', ')} in uppercase, ` +
      'a comma-separated list of them without spaces (GET,HEAD), or * for every method'
  }
  return new Set(methods)
}

function invalid (text: string, problem: string): ParsedRule {
  return { ok: false, message: `the rule ${JSON.stringify(text)} ${problem}` }
}
