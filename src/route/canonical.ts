import { catalogueController } from './catalogue.js'
import { parseExtension, routeCake, type CakeParams, type Extension } from './cake-router.js'
import { urldecodeStrict } from './php-url.js'
import { checkDecodedPath, checkRawTarget, checkUrlLibrary } from './target-checks.js'
import type { Canonical } from './types.js'

export type { Canonical, CanonicalRoute } from './types.js'
export { findKeyInUrl, hasMethodOverrideInQuery } from './url-keys.js'

const IDENTIFIER = /^[A-Za-z0-9_]+$/
const ADMIN = 'admin'

/**
 * Reduces a request target to the MISP route CakePHP 2 dispatches it to, or rejects it
 * when its meaning is ambiguous. rawTarget is req.url exactly as received (path and
 * query); method is the request method, needed for the REST resource routes. A target
 * that passes is meant to be forwarded byte for byte.
 */
export function canonicalize (method: string, rawTarget: string): Canonical {
  const rawPath = rawTarget.split('?', 1)[0] ?? ''
  const rawProblem = checkRawTarget(rawTarget, rawPath)
  if (rawProblem !== undefined) return reject(rawProblem)

  const decoded = urldecodeStrict(rawPath)
  if (!decoded.ok) return reject(`the path contains ${decoded.problem}`)
  const decodedProblem = checkDecodedPath(decoded.text) ?? checkUrlLibrary(rawPath)
  if (decodedProblem !== undefined) return reject(decodedProblem)

  const split = parseExtension(rawPath)
  if (typeof split === 'string') return reject(split)
  const path = urldecodeStrict(split.path)
  if (!path.ok) return reject(`the path contains ${path.problem}`)

  const routed = routeCake(method, path.text)
  if (!routed.ok) return reject(routed.problem)
  return canonicalRoute(routed.params, split.extension, path.text)
}

/** Routes whose class depends on their first passed argument (see CanonicalRoute.firstArgument). */
const ARGUMENT_ROUTES = new Set(['users/view'])

function canonicalRoute (params: CakeParams, extension: Extension | undefined, decodedPath: string): Canonical {
  const problem = checkNames(params)
  if (problem !== undefined) return reject(problem)

  const controller = catalogueController(params.controller) ?? camelize(params.controller)
  const action = params.action.toLowerCase()
  const route = (params.admin ? ADMIN + '/' : '') + controller + '/' + action
  if (!ARGUMENT_ROUTES.has(route)) return { ok: true, route: { admin: params.admin, controller, action, extension, route } }
  const firstArgument = firstPassedArgument(decodedPath)
  return { ok: true, route: { admin: params.admin, controller, action, extension, route, firstArgument } }
}

/**
 * Returns the first passed argument of a path that CakePHP's default route
 * `/:controller/:action/*` matched: the first segment after the action that is not a
 * named parameter (`name:value`).
 */
function firstPassedArgument (decodedPath: string): string | undefined {
  const segments = decodedPath.split('/').filter((segment) => segment !== '')
  return segments.slice(2).find((segment) => !segment.includes(':'))
}

/** Returns why CakePHP would not dispatch these names unambiguously, or undefined. */
function checkNames ({ admin, controller, action }: CakeParams): string | undefined {
  if (!IDENTIFIER.test(controller) || !IDENTIFIER.test(action)) {
    return `the controller '${shown(controller)}' or action '${shown(action)}' is not a PHP ` +
      'name of letters, digits and \'_\'; named parameters (name:value) go after the action'
  }
  if (controller.toLowerCase() === ADMIN) {
    return 'MISP has no admin controller; the admin prefix is written in lowercase: /admin/{controller}/{action}'
  }
  if (action.startsWith('_')) return `the action '${shown(action)}' is private: CakePHP never dispatches '_' methods`
  if (!admin && action.split('_', 1)[0]?.toLowerCase() === ADMIN && action.indexOf('_') > 0) {
    return `the action '${shown(action)}' names an admin method; call /admin/{controller}/{action} instead`
  }
  return undefined
}

/** lcfirst(Inflector::camelize()) of CakePHP 2: 'sharing_groups' -> 'sharingGroups'. */
function camelize (name: string): string {
  const words = name.split('_').map((word) => word.charAt(0).toUpperCase() + word.slice(1))
  const camel = words.join('')
  return camel.charAt(0).toLowerCase() + camel.slice(1)
}

/** Shows a route name in a message without echoing anything long enough to be a key. */
function shown (name: string): string {
  return name.replace(/[A-Za-z0-9]{32,}/g, '[redacted]').slice(0, 80)
}

function reject (problem: string): Canonical {
  return { ok: false, message: `request target rejected: ${problem}` }
}
