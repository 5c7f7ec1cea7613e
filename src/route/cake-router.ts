// MISP's routes (app/Config/routes.php, MISP 2.5.1) as CakePHP 2.10 matches them
// (Router::parse, CakeRoute::parse, lib/Cake/Config/routes.php). Route templates are
// regular expressions over the decoded path, so their literal parts are case-sensitive.

/** Route parameters as CakePHP computes them, before the controller class is looked up. */
export interface CakeParams {
  readonly admin: boolean
  /** As matched in the path: 'sharing_groups', 'SharingGroups'. */
  readonly controller: string
  /** As matched in the path, without the `admin_` prefix that prefix routing adds. */
  readonly action: string
}

export type Routed = { ok: true, params: CakeParams } | { ok: false, problem: string }
export type Extension = 'json' | 'xml' | 'csv'

/** Router::parseExtensions('xml', 'json', 'csv') in MISP's routes.php. */
const EXTENSIONS = new Set<string>(['xml', 'json', 'csv'])
const EXTENSION_AT_END = /\.([0-9a-zA-Z]*)$/

/** `Router::connect('/<path>/*', [..., 'admin' => true])` lines of MISP's routes.php. */
const ADMIN_PAGINATION = new Map([
  ['allowedlists/admin_index', ['allowedlists', 'index']],
  ['users/admin_index', ['users', 'index']],
  ['roles/admin_index', ['roles', 'index']],
  ['logs/admin_search', ['logs', 'search']],
  ['audit_logs/admin_index', ['audit_logs', 'index']],
  ['access_logs/admin_index', ['access_logs', 'index']],
  ['logs/admin_index', ['logs', 'index']],
  ['regexp/admin_index', ['regexp', 'index']]
])

/** Router::mapResources(['events', 'attributes']) with the default $_resourceMap. */
const RESOURCES = new Set(['events', 'attributes'])
const RESOURCE_ID = /^(?:[0-9]+|[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12})$/
const RESOURCE_ACTION_BY_METHOD = new Map([['GET', 'view'], ['PUT', 'edit'], ['DELETE', 'delete'], ['POST', 'edit']])

/**
 * Plugin names as the plugin routes of lib/Cake/Config/routes.php match them. MISP's
 * bootstrap.php loads SysLog, Assets, SysLogLogable and OidcAuth; the others are optional
 * or older plugins, and rejecting a name that is not loaded only rejects a 404.
 */
const PLUGINS = new Set([
  'sys_log', 'assets', 'sys_log_logable', 'oidc_auth', 'cert_auth', 'shibb_auth',
  'lin_o_t_p_auth', 'aad_auth', 'cake_resque', 'debug_kit', 'url_cache', 'acl_extras'
])

/**
 * Splits a `.json`, `.xml` or `.csv` extension off the raw path as Router::_parseExtension
 * does: matched at the end of the whole raw path (before percent-decoding), any case.
 */
export function parseExtension (rawPath: string): { path: string, extension: Extension | undefined } | string {
  const match = EXTENSION_AT_END.exec(rawPath)
  const extension = match?.[1]?.toLowerCase() ?? ''
  if (!EXTENSIONS.has(extension)) return { path: rawPath, extension: undefined }

  // CakePHP cuts at the FIRST lowercase '.<ext>' in the path (strpos), and at offset 0
  // when there is none, which turns '/admin/users/view/1.JSON' into '/'.
  const cut = rawPath.indexOf('.' + extension)
  if (cut !== rawPath.length - extension.length - 1) {
    return `the extension must be lowercase '.${extension}' and appear once, at the end of the path`
  }
  return { path: rawPath.slice(0, cut), extension: extension as Extension }
}

/** Routes a decoded path without extension through MISP's routes in CakePHP's order. */
export function routeCake (method: string, path: string): Routed {
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path
  if (trimmed === '') return routed(false, 'events', 'index')

  const segments = trimmed.slice(1).split('/')
  const paginated = ADMIN_PAGINATION.get(segments.slice(0, 2).join('/'))
  if (paginated !== undefined) return routed(true, paginated[0] ?? '', paginated[1] ?? '')

  return routeResource(method, segments) ?? routeDefault(segments)
}

function routeResource (method: string, segments: string[]): Routed | undefined {
  const [controller = '', id] = segments
  if (!RESOURCES.has(controller) || segments.length > 2) return undefined
  if (id === undefined) return routed(false, controller, method === 'POST' ? 'add' : 'index')

  const action = RESOURCE_ACTION_BY_METHOD.get(method)
  if (action === undefined || !RESOURCE_ID.test(id)) return undefined
  return routed(false, controller, action)
}

function routeDefault (segments: string[]): Routed {
  const admin = segments[0] === 'admin'
  const [controller, action = 'index'] = admin ? segments.slice(1) : segments
  if (controller === undefined) {
    return { ok: false, problem: 'the path \'/admin\' names no controller; use /admin/{controller}/{action}' }
  }
  if (PLUGINS.has(controller)) {
    return { ok: false, problem: `the path reaches the CakePHP plugin '${controller}', which serves no MISP API` }
  }
  return routed(admin, controller, action)
}

function routed (admin: boolean, controller: string, action: string): Routed {
  return { ok: true, params: { admin, controller, action } }
}
