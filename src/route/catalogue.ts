import { CONTROLLERS, type ControllerActions } from './catalogue-data.js'
import type { CanonicalRoute, RouteClass, SensitiveCategory } from './types.js'

export type { RouteClass, SensitiveCategory } from './types.js'

export const SENSITIVE_CATEGORIES: readonly SensitiveCategory[] = Object.freeze([
  'users', 'auth_keys', 'sharing_groups', 'sync_servers',
  'settings', 'roles', 'workflows', 'organisations'
])

type KnownClass = RouteClass & { readonly known: boolean }

const UNKNOWN: KnownClass = Object.freeze({ kind: 'write', known: false })

/**
 * users/view of another id than `me`: MISP 2.5 shows a site admin any user, with the
 * user's authkey in clear when advanced authkeys are off. Only users/view/me is a read.
 */
const OTHER_USER_VIEW: KnownClass = Object.freeze({ kind: 'sensitive', category: 'users', known: true })
const ADMIN_PREFIX = 'admin_'

/** Keyed by the lowercased route: 'admin/users/add', 'events/restsearch'. */
const byRoute = new Map<string, KnownClass>()
/** Keyed by the lowercased controller name without underscores. */
const controllerSpelling = new Map<string, string>()
const routeList: string[] = []

for (const [controller, actions] of CONTROLLERS) {
  controllerSpelling.set(controllerKey(controller), controller)
  for (const [action, routeClass] of classifiedActions(actions)) {
    addRoute(controller, action, routeClass)
  }
}

/**
 * Controllers whose actions manage what an attacker uses to stay in. An action of theirs
 * that the catalogue does not know, such as one added by a later MISP version, gets the
 * controller's category instead of `write`, so it still needs `allow_sensitive`.
 */
const UNKNOWN_ACTION_CATEGORY = new Map<string, SensitiveCategory>([
  ['users', 'users'], ['authkeys', 'auth_keys'], ['sharinggroups', 'sharing_groups'],
  ['servers', 'sync_servers'], ['roles', 'roles'], ['workflows', 'workflows'],
  ['organisations', 'organisations']
])

/**
 * Returns the catalogue class of a canonical route. Unknown routes are `write`, or
 * sensitive when their controller is in UNKNOWN_ACTION_CATEGORY.
 */
export function classifyRoute (route: CanonicalRoute): KnownClass {
  const known = byRoute.get(route.route.toLowerCase())
  if (route.route === 'users/view' && route.firstArgument !== 'me') return OTHER_USER_VIEW
  if (known !== undefined) return known
  const category = UNKNOWN_ACTION_CATEGORY.get(controllerKey(route.controller))
  return category === undefined ? UNKNOWN : { kind: 'sensitive', category, known: false }
}

/** True when MISP's ACL lists the controller (any case, underscores ignored). */
export function isKnownController (name: string): boolean {
  return controllerSpelling.has(controllerKey(name))
}

/**
 * Returns the catalogue spelling of a controller name, or undefined when none matches.
 * Names compare case-insensitively, as PHP class names do, and without underscores,
 * because CakePHP camelizes `sharing_groups` to `SharingGroups`.
 */
export function catalogueController (name: string): string | undefined {
  return controllerSpelling.get(controllerKey(name))
}

/** Returns all catalogue routes in `CanonicalRoute.route` form: 'admin/users/add'. */
export function catalogueRoutes (): readonly string[] {
  return routeList
}

function controllerKey (name: string): string {
  return name.toLowerCase().replaceAll('_', '')
}

function addRoute (controller: string, action: string, routeClass: RouteClass): void {
  const admin = action.startsWith(ADMIN_PREFIX)
  const bare = admin ? action.slice(ADMIN_PREFIX.length) : action
  const route = (admin ? 'admin/' : '') + controller + '/' + bare.toLowerCase()
  if (byRoute.has(route.toLowerCase())) {
    throw new Error(`route catalogue lists ${route} twice: keep one class per action`)
  }

  byRoute.set(route.toLowerCase(), Object.freeze({ ...routeClass, known: true }))
  routeList.push(route)
}

function * classifiedActions (actions: ControllerActions): Generator<[string, RouteClass]> {
  for (const action of names(actions.read)) yield [action, { kind: 'read', searchBody: false }]
  for (const action of names(actions.search)) yield [action, { kind: 'read', searchBody: true }]
  for (const action of names(actions.write)) yield [action, { kind: 'write' }]
  for (const category of SENSITIVE_CATEGORIES) {
    for (const action of names(actions[category])) yield [action, { kind: 'sensitive', category }]
  }
}

function names (list: string | undefined): string[] {
  return list === undefined ? [] : list.split(' ').filter((name) => name !== '')
}
