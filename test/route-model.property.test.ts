import fc from 'fast-check'
import t from 'tap'
import { canonicalize } from '../src/route/canonical.js'

// A reference model of how MISP 2.5.1 (app/Config/routes.php) on CakePHP 2.10 turns
// REQUEST_URI into a controller class and method. It follows CakeRequest::_url(),
// Router::parse() and _parseExtension(), CakeRoute::_writeRoute() and parse(),
// Inflector::camelize() for the class name, Controller::_isPrivateAction() and PHP's
// urldecode(). It is written independently of src/route, so the two can disagree.

// Roughly 10 microseconds a run on a 2-core EPYC, so 200,000 runs take a few seconds.
const RUNS = 200_000
const UUID = 'c99506a6-1255-4b71-afa5-7b8ba48c3b1b'

interface Dispatch { admin: boolean, classKey: string, methodKey: string, ext: string | null }
type Outcome = Dispatch | 'not dispatched'

/** PHP urldecode(): '+' is a space, each valid %XX one byte, anything else kept. */
function phpUrldecode (text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3)
    if (text[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      out += String.fromCharCode(parseInt(hex, 16))
      i += 2
    } else {
      out += text[i] === '+' ? ' ' : text[i]
    }
  }
  return out
}

/** CakeRequest::_url() without PATH_INFO and with an empty base, then the leading '/' cut. */
function requestUrl (requestUri: string): string {
  let uri = ''
  const scheme = requestUri.indexOf('://')
  const query = requestUri.indexOf('?')
  if (scheme === -1 || (query !== -1 && scheme > query)) uri = requestUri
  uri = uri.split('?')[0] ?? ''
  if (['', '/', '//', '/index.php'].includes(uri) || uri.endsWith('/webroot/index.php')) uri = '/'
  return uri.startsWith('/') ? uri.slice(1) : uri
}

/** Router::_parseExtension() with parseExtensions('xml', 'json', 'csv'). */
function parseExtension (url: string): { url: string, ext: string | null } {
  const match = /\.[0-9a-zA-Z]*$/.exec(url)
  if (match === null) return { url, ext: null }
  const ext = match[0].slice(1)
  for (const name of ['xml', 'json', 'csv']) {
    if (name === ext.toLowerCase()) {
      const at = url.indexOf('.' + name)
      return { url: url.slice(0, at === -1 ? 0 : at), ext }
    }
  }
  return { url, ext: null }
}

interface Route {
  regex: RegExp
  defaults: { controller?: string, action?: string, admin?: boolean, plugin?: boolean, method?: string }
}

/**
 * CakeRoute::_writeRoute(): ':name' becomes a group ('[^/]+' or the option pattern),
 * '/*' becomes '(?:/(.*))?', and '[/]*$' ends every route. PCRE '.' excludes only '\n'
 * and '$' also matches before a final '\n', which the JavaScript forms below mirror.
 */
function compile (template: string, options: Record<string, string> = {}): RegExp {
  if (template === '/') return /^\/*\n?$/
  let pattern = template.replace(/[.?+^$|()[\]{}\\]/g, '\\$&')
  pattern = pattern.replace(/\/\*$/, '(?:/(?<args>[^\\n]*))?')
  pattern = pattern.replace(/\/:([A-Za-z0-9_]+)/g, (_all, name: string) => {
    return `(?:/(?<${name}>${options[name] ?? '[^/]+'}))`
  })
  return new RegExp('^' + pattern + '[/]*\\n?$')
}

const PLUGINS = 'sys_log|assets|sys_log_logable|oidc_auth'
const ID = `[0-9]+|[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}`

/** MISP's routes.php, then lib/Cake/Config/routes.php, in connection order. */
const ROUTES: Route[] = [
  { regex: compile('/'), defaults: { controller: 'events', action: 'index' } },
  ...[['allowedlists', 'admin_index', 'index'], ['users', 'admin_index', 'index'],
    ['roles', 'admin_index', 'index'], ['logs', 'admin_search', 'search'],
    ['audit_logs', 'admin_index', 'index'], ['access_logs', 'admin_index', 'index'],
    ['logs', 'admin_index', 'index'], ['regexp', 'admin_index', 'index']]
    .map(([controller = '', path = '', action = '']) => ({
      regex: compile(`/${controller}/${path}/*`), defaults: { controller, action, admin: true }
    })),
  ...['events', 'attributes'].flatMap((name) => [
    ['index', 'GET', false], ['view', 'GET', true], ['add', 'POST', false],
    ['edit', 'PUT', true], ['delete', 'DELETE', true], ['edit', 'POST', true]
  ].map(([action, method, id]) => ({
    regex: compile(`/${name}` + (id === true ? '/:id' : ''), { id: ID }),
    defaults: { controller: name, action: String(action), method: String(method) }
  }))),
  ...['/admin/:plugin', '/admin/:plugin/:controller', '/admin/:plugin/:controller/:action/*',
    '/:plugin', '/:plugin/:controller', '/:plugin/:controller/:action/*']
    .map((template) => ({ regex: compile(template, { plugin: PLUGINS }), defaults: { plugin: true } })),
  { regex: compile('/admin/:controller'), defaults: { action: 'index', admin: true } },
  { regex: compile('/admin/:controller/:action/*'), defaults: { admin: true } },
  { regex: compile('/:controller'), defaults: { action: 'index' } },
  { regex: compile('/:controller/:action/*'), defaults: {} }
]

/** Inflector::camelize(): '_' to ' ', ucwords(), spaces removed. */
function camelize (word: string): string {
  return word.replaceAll('_', ' ').split(' ').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('')
}

function routeModel (method: string, requestUri: string): Outcome {
  let url = requestUrl(requestUri)
  if (url.length > 0 && !url.startsWith('/')) url = '/' + url
  const extension = parseExtension(url)
  const decoded = phpUrldecode(extension.url)

  for (const { regex, defaults } of ROUTES) {
    const groups = regex.exec(decoded)?.groups ?? (regex.test(decoded) ? {} : undefined)
    if (groups === undefined || (defaults.method !== undefined && defaults.method !== method)) continue
    if (defaults.plugin === true) return 'not dispatched'
    const controller = groups.controller ?? defaults.controller ?? ''
    const action = groups.action ?? defaults.action ?? 'index'
    return dispatch(defaults.admin === true, controller, action, extension.ext)
  }
  return 'not dispatched'
}

/** Dispatcher and Controller::_isPrivateAction() with Routing.prefixes = ['admin']. */
function dispatch (admin: boolean, controller: string, action: string, ext: string | null): Outcome {
  const method = admin ? 'admin_' + action : action
  if (method.startsWith('_')) return 'not dispatched'
  if (!admin && method.indexOf('_') > 0 && method.split('_')[0] === 'admin') return 'not dispatched'
  // PHP class and method names are case-insensitive.
  return { admin, classKey: camelize(controller).toLowerCase(), methodKey: method.toLowerCase(), ext }
}

const TOKENS = ['events', 'Events', 'EVENTS', 'attributes', 'users', 'sharing_groups', 'sharingGroups',
  'SHARING_GROUPS', 'audit_logs', 'auditLogs', 'auth_keys', 'logs', 'roles', 'servers', 'admin', 'Admin',
  '%61dmin', 'restSearch', 'RestSearch', 'index', 'view', 'add', 'edit', 'delete', 'admin_index',
  'admin_add', 'Admin_add', 'admin_search', '_x', 'x', '_', '-', '1', '42', UUID, 'page:2', 'apikey:k',
  ':', ';', '+', '%', '%25', '%2e', '%2E', '.', '..', '%2f', '%2F', '%5c', '%3a', '%3f', '%23', '%00',
  '%20', '%61', '%65', '%5f', '%c3%a9', '%ff', '%ZZ', '.json', '.JSON', '.Json', '.xml', '.csv', 'json',
  'index.php', '.php', 'assets', 'sys_log', 'oidc_auth', '\\', ' ', 'é', '"', '://', '#', '|']
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']

const NAMES = ['events', 'Events', 'attributes', 'users', 'sharing_groups', 'SharingGroups', 'audit_logs',
  'auth_keys', 'admin', '%61dmin', 'restSearch', 'RestSearch', 'index', 'view', 'add', 'DELETE', 'admin_index',
  'admin_search', 'Admin_add', '1', '42', UUID, 'page:2', 'x%2ey', 'a+b', '%65vents', '%5findex', 'assets']
const word = fc.array(fc.constantFrom(...TOKENS), { minLength: 0, maxLength: 3 }).map((parts) => parts.join(''))
const segment = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: word })
const target = fc.tuple(
  fc.array(segment, { minLength: 1, maxLength: 5 }),
  fc.constantFrom('', '', '', '', '/', '.json', '.JSON', '.xml', '.csv', '%2ejson'),
  fc.constantFrom('', '', '?page=2', '?a=%2f&b=..', '?', '?x=1#y'),
  fc.constantFrom('/', '/', '/', '/', '/', '/', '', '//', 'http://h/')
).map(([segments, suffix, query, start]) => start + segments.join('/') + suffix + query)

t.test('accepted targets route as CakePHP 2 routes them', async (t) => {
  let accepted = 0
  fc.assert(fc.property(fc.constantFrom(...METHODS), target, (method, rawTarget) => {
    const result = canonicalize(method, rawTarget)
    if (!result.ok) return true
    accepted++

    // The proxy forwards the query as received and rebuilds only the path with URL.
    const rawPath = rawTarget.split('?', 1)[0] as string
    if (new URL(rawPath, 'http://h').pathname !== rawPath) return false
    const model = routeModel(method, rawTarget)
    if (model === 'not dispatched') return false

    const { admin, controller, action, extension } = result.route
    return model.admin === admin &&
      model.classKey === controller.toLowerCase() &&
      model.methodKey === (admin ? 'admin_' : '') + action &&
      model.ext === (extension ?? null)
  }), { numRuns: RUNS })

  t.ok(accepted > RUNS / 20, `enough accepted targets to compare (${accepted} of ${RUNS})`)
})

t.test('the reference model agrees with known CakePHP results', async (t) => {
  const known: Array<[string, string, Outcome]> = [
    ['GET', '/', { admin: false, classKey: 'events', methodKey: 'index', ext: null }],
    ['DELETE', '/events/1.json', { admin: false, classKey: 'events', methodKey: 'delete', ext: 'json' }],
    ['GET', '/users/admin_index', { admin: true, classKey: 'users', methodKey: 'admin_index', ext: null }],
    ['GET', '/users/admin_add', 'not dispatched'],
    ['GET', '/users/Admin_add', { admin: false, classKey: 'users', methodKey: 'admin_add', ext: null }],
    ['GET', '/admin/users/view/1.JSON', { admin: false, classKey: 'events', methodKey: 'index', ext: 'JSON' }],
    ['GET', '/sharing+groups/index', { admin: false, classKey: 'sharinggroups', methodKey: 'index', ext: null }],
    ['GET', '/events/..%2fadmin/users', { admin: false, classKey: 'events', methodKey: '..', ext: null }],
    ['GET', '/assets/x', 'not dispatched']
  ]
  for (const [method, requestUri, outcome] of known) {
    t.same(routeModel(method, requestUri), outcome, `${method} ${requestUri}`)
  }
})
