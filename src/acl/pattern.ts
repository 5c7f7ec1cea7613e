import type { CanonicalRoute } from '../route/types.js'

/**
 * A route reduced to what profile patterns compare: the admin prefix, the controller
 * lowercased without `_` (so `sharing_groups` and `sharingGroups` are one controller,
 * as in the catalogue) and the lowercased action.
 */
export interface RouteName {
  readonly admin: boolean
  readonly controller: string
  readonly action: string
}

/** A compiled route pattern: `controller/action`, `admin/controller/action`, `admin/*` or `*`. */
export interface RoutePattern {
  readonly text: string
  /** Undefined for `*`, which matches admin and other routes alike. */
  readonly admin: boolean | undefined
  readonly controller: NameMatcher
  readonly action: NameMatcher
}

export type NameMatcher = (name: string) => boolean

export type ParsedPattern = { ok: true, pattern: RoutePattern } | { ok: false, message: string }

const SEGMENT = /^[A-Za-z0-9_*]+$/
const ANY: NameMatcher = () => true
const ADMIN = 'admin'
const PATTERN_FORMS = 'write controller/action, admin/controller/action, admin/* or *, ' +
  'where * matches any run of characters inside one name'

export function routeName (route: CanonicalRoute): RouteName {
  return { admin: route.admin, controller: controllerKey(route.controller), action: route.action.toLowerCase() }
}

export function controllerKey (name: string): string {
  return name.toLowerCase().replaceAll('_', '')
}

export function matchesPattern (pattern: RoutePattern, route: RouteName): boolean {
  if (pattern.admin !== undefined && pattern.admin !== route.admin) return false
  return pattern.controller(route.controller) && pattern.action(route.action)
}

/** Compiles a pattern once, at policy load, so matching a request builds no regular expression. */
export function parsePattern (text: string): ParsedPattern {
  if (text === '*') return compiled(text, undefined, '*', '*')
  if (text.startsWith('/')) return invalid(`the pattern "${text}" starts with "/"; ${PATTERN_FORMS}`)
  if (/\.(json|xml|csv)$/i.test(text)) {
    return invalid(`the pattern "${text}" ends in an extension; patterns name routes without .json, .xml or .csv`)
  }

  const segments = text.split('/')
  const admin = segments[0] === ADMIN
  const names = admin ? segments.slice(1) : segments
  if (admin && names.length === 1 && names[0] === '*') return compiled(text, true, '*', '*')
  const [controller, action] = names
  if (names.length !== 2 || controller === undefined || action === undefined) {
    return invalid(`the pattern "${text}" has ${segments.length} part(s); ${PATTERN_FORMS}`)
  }
  const bad = [controller, action].find((name) => !SEGMENT.test(name))
  if (bad !== undefined) {
    return invalid(`the name "${bad}" in the pattern "${text}" may contain only letters, digits, "_" and "*"`)
  }
  return compiled(text, admin, controller, action)
}

function compiled (text: string, admin: boolean | undefined, controller: string, action: string): ParsedPattern {
  return {
    ok: true,
    pattern: Object.freeze({ text, admin, controller: nameMatcher(controllerKey(controller)), action: nameMatcher(action.toLowerCase()) })
  }
}

function nameMatcher (name: string): NameMatcher {
  if (name === '*') return ANY
  if (!name.includes('*')) return (candidate) => candidate === name

  // Names hold only [a-z0-9_*] here (checked by SEGMENT), so no character needs escaping.
  const expression = new RegExp(`^${name.split('*').join('.*')}$`)
  return (candidate) => expression.test(candidate)
}

function invalid (message: string): ParsedPattern {
  return { ok: false, message }
}
