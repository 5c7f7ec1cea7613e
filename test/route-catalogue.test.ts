import t from 'tap'
import { canonicalize } from '../src/route/canonical.js'
import {
  catalogueRoutes, classifyRoute, isKnownController, SENSITIVE_CATEGORIES
} from '../src/route/catalogue.js'

function classify (method: string, target: string): ReturnType<typeof classifyRoute> | undefined {
  const result = canonicalize(method, target)
  return result.ok ? classifyRoute(result.route) : undefined
}

t.test('GET requests that change state are not reads', async (t) => {
  const writes = ['/feeds/fetchFromFeed/1', '/feeds/fetchFromAllFeeds', '/feeds/enable/1',
    '/feeds/disable/1', '/feeds/cacheFeeds/all', '/taxonomies/addTag/1', '/jobs/cache/csv', '/news/index',
    '/workflows/editor/event-publish', '/galaxies/update', '/warninglists/update']
  for (const target of writes) {
    t.not(classify('GET', target)?.kind, 'read', `GET ${target}`)
    t.not(classify('HEAD', target)?.kind, 'read', `HEAD ${target}`)
  }
  t.same(classify('GET', '/servers/pull/1/full'), { kind: 'sensitive', category: 'sync_servers', known: true })
  t.same(classify('GET', '/servers/push/1/full'), { kind: 'sensitive', category: 'sync_servers', known: true })
  t.same(classify('OPTIONS', '/servers/serverSettingsEdit/MISP.baseurl'),
    { kind: 'sensitive', category: 'settings', known: true })
})

t.test('high-privilege actions are sensitive', async (t) => {
  const sensitive: Array<[string, string]> = [
    ['/admin/users/add', 'users'], ['/admin/users/edit/1', 'users'], ['/admin/users/delete/1', 'users'],
    ['/admin/users/massToggleField/disabled/1', 'users'], ['/users/edit', 'users'],
    ['/users/initiatePasswordReset/1', 'users'], ['/users/totp_delete/1', 'users'],
    ['/users/acceptRegistrations/1', 'users'], ['/admin/users/index', 'users'], ['/admin/users/view/1', 'users'],
    ['/users/resetauthkey/me', 'auth_keys'], ['/users/resetAllSyncAuthKeys', 'auth_keys'],
    ['/users/updateToAdvancedAuthKeys', 'auth_keys'], ['/auth_keys/add/me', 'auth_keys'],
    ['/authKeys/edit/1', 'auth_keys'], ['/auth_keys/delete/1', 'auth_keys'], ['/auth_keys/pin/1/10.0.0.1', 'auth_keys'],
    ['/events/automation', 'auth_keys'],
    ['/sharing_groups/add', 'sharing_groups'], ['/sharing_groups/edit/1', 'sharing_groups'],
    ['/sharing_groups/delete/1', 'sharing_groups'], ['/sharing_groups/addOrg/1/2', 'sharing_groups'],
    ['/sharing_groups/removeOrg/1/2', 'sharing_groups'], ['/sharing_groups/addServer/1/2', 'sharing_groups'],
    ['/sharing_groups/removeServer/1/2', 'sharing_groups'], ['/sharing_group_blueprints/execute/1', 'sharing_groups'],
    ['/servers/add', 'sync_servers'], ['/servers/edit/1', 'sync_servers'], ['/servers/delete/1', 'sync_servers'],
    ['/servers/import', 'sync_servers'], ['/servers/createSync', 'sync_servers'],
    ['/servers/resetRemoteAuthKey/1', 'sync_servers'], ['/servers/index', 'sync_servers'],
    ['/servers/serverSettingsEdit/MISP.baseurl', 'settings'], ['/servers/getSetting/MISP.baseurl', 'settings'],
    ['/api/rest', 'settings'], ['/servers/rest', 'settings'],
    ['/admin/roles/add', 'roles'], ['/admin/roles/edit/1', 'roles'], ['/admin/roles/delete/1', 'roles'],
    ['/admin/roles/set_default/1', 'roles'],
    ['/workflows/edit/1', 'workflows'], ['/workflows/editor/x', 'workflows'], ['/workflows/toggleModule/x/1', 'workflows'],
    ['/workflows/massToggleField/enabled/1', 'workflows'], ['/workflows/debugToggleField/1/1', 'workflows'],
    ['/workflows/delete/1', 'workflows'], ['/workflows/executeWorkflow/1', 'workflows'],
    ['/workflows/moduleStatelessExecution/x', 'workflows'],
    ['/admin/organisations/add', 'organisations'], ['/admin/organisations/edit/1', 'organisations'],
    ['/admin/organisations/delete/1', 'organisations']
  ]
  for (const [target, category] of sensitive) {
    t.same(classify('POST', target), { kind: 'sensitive', category, known: true }, target)
  }
})

t.test('read routes used by PyMISP and sync', async (t) => {
  const reads = ['/users/view/me', '/users/view/me.json', '/users/view/%6de', '/servers/getVersion', '/servers/getPyMISPVersion.json',
    '/attributes/describeTypes.json', '/events/view/1', '/roles/index', '/sharing_groups/index']
  for (const target of reads) t.equal(classify('GET', target)?.kind, 'read', target)
  t.same(classify('HEAD', '/events/view/c99506a6-1255-4b71-afa5-7b8ba48c3b1b'),
    { kind: 'read', searchBody: false, known: true }, 'sync HEAD of an event')

  const searches = ['/events/restSearch', '/attributes/restSearch', '/objects/restSearch',
    '/sightings/restSearch', '/galaxyClusters/restSearch', '/events/index']
  for (const target of searches) {
    t.same(classify('POST', target), { kind: 'read', searchBody: true, known: true }, target)
  }
})

t.test('unknown routes are unknown writes', async (t) => {
  t.same(classify('GET', '/events/noSuchAction'), { kind: 'write', known: false })
  t.same(classify('GET', '/noSuchController/index'), { kind: 'write', known: false })
  t.same(classify('GET', '/admin/events/index'), { kind: 'write', known: false })
})

t.test('users/view of another user is sensitive', async (t) => {
  for (const target of ['/users/view/1', '/users/view', '/users/view/ME', '/users/view/page:1', '/Users/View/2.json', '/users/view/me2']) {
    t.same(classify('GET', target), { kind: 'sensitive', category: 'users', known: true }, target)
  }
  t.same(classify('GET', '/users/view/page:1/me'), { kind: 'read', searchBody: false, known: true }, 'named parameters are skipped')
})

t.test('unknown actions of sensitive controllers stay sensitive', async (t) => {
  const cases: Array<[string, string]> = [
    ['/admin/users/newAction', 'users'], ['/users/newAction', 'users'], ['/auth_keys/newAction', 'auth_keys'],
    ['/authKeys/newAction', 'auth_keys'], ['/sharing_groups/newAction/1', 'sharing_groups'],
    ['/servers/newAction/1', 'sync_servers'], ['/admin/roles/newAction', 'roles'],
    ['/workflows/newAction', 'workflows'], ['/admin/organisations/newAction', 'organisations']
  ]
  for (const [target, category] of cases) {
    t.same(classify('POST', target), { kind: 'sensitive', category, known: false }, target)
  }
})

t.test('catalogue routes are unique and classify as known', async (t) => {
  const routes = catalogueRoutes()
  t.ok(routes.length > 500, `catalogue size (${routes.length})`)
  t.equal(new Set(routes.map((route) => route.toLowerCase())).size, routes.length, 'no duplicates')
  for (const route of routes) {
    const admin = route.startsWith('admin/')
    const [controller = '', action = ''] = route.replace(/^admin\//, '').split('/')
    const routeClass = classifyRoute({ admin, controller, action, extension: undefined, route })
    if (!routeClass.known) t.fail(`${route} is not found by classifyRoute`)
  }
  const used = new Set(routes.map((route) => {
    const routeClass = classifyRoute({ admin: false, controller: '', action: '', extension: undefined, route })
    return routeClass.kind === 'sensitive' ? routeClass.category : routeClass.kind
  }))
  for (const category of SENSITIVE_CATEGORIES) t.ok(used.has(category), `category ${category} is used`)
})

t.test('isKnownController compares as PHP and CakePHP do', async (t) => {
  for (const name of ['sharingGroups', 'sharing_groups', 'SharingGroups', 'SHARINGGROUPS', 'auth_keys']) {
    t.ok(isKnownController(name), name)
  }
  for (const name of ['sharingGroup', 'admin', '', 'sharing-groups']) t.notOk(isKnownController(name), name)
})
