import t, { type Test } from 'tap'
import { canonicalize, findKeyInUrl, hasMethodOverrideInQuery } from '../src/route/canonical.js'

const UUID = '5f3c1a2b-0c4d-4e5f-8a9b-0123456789ab'

/** [method, target, expected route or null when rejected, expected extension] */
type Row = readonly [string, string, string | null, string?]

function check (t: Test, rows: readonly Row[]): void {
  for (const [method, target, route, extension] of rows) {
    const result = canonicalize(method, target)
    if (route === null) {
      t.notOk(result.ok, `${method} ${target} is rejected`)
      if (!result.ok) t.match(result.message, /^request target rejected: /, `${target} message`)
      continue
    }
    t.ok(result.ok, `${method} ${target} is accepted`)
    if (!result.ok) continue
    t.equal(result.route.route, route, `${method} ${target} route`)
    t.equal(result.route.extension, extension, `${method} ${target} extension`)
  }
}

t.test('dot segments and encoded separators', async (t) => {
  check(t, [
    ['GET', '/events/view/1', 'events/view'],
    ['GET', '/events/view/a..b', 'events/view'],
    ['GET', '/events/../admin/users/index', null],
    ['GET', '/events/./index', null],
    ['GET', '/events/%2e%2e/admin/users', null],
    ['GET', '/events/%2E/index', null],
    ['GET', '/events/.%2e/admin/users', null],
    ['GET', '/events/..%2fadmin/users', null],
    ['GET', '/events/..%2Fadmin/users', null],
    ['GET', '/events/%5c..%5cadmin/users', null],
    ['GET', '/events/%5C..%5Cadmin/users', null],
    ['GET', '/events/\\..\\admin/users', null],
    ['GET', '/events//../admin/users', null],
    // Decoded once only: '%2e%2e' is then text, and not a PHP method name.
    ['GET', '/events/%252e%252e/admin/users', null],
    ['GET', '/events/view/%252e%252e', 'events/view']
  ])
})

t.test('empty segments and trailing slash', async (t) => {
  check(t, [
    ['GET', '/', 'events/index'],
    ['GET', '/events/', 'events/index'],
    ['POST', '/EVENTS/ADD/', 'events/add'],
    ['GET', '//admin/users/index', null],
    ['GET', '/events//x', null],
    ['GET', '/events/index//', null],
    ['GET', '//', null]
  ])
})

t.test('semicolons, controls and invalid encodings', async (t) => {
  check(t, [
    ['GET', '/events/view/a,b', 'events/view'],
    ['GET', '/admin;x=1/users/index', null],
    ['GET', '/admin%3bx=1/users/index', null],
    ['GET', '/events/index;', null],
    ['GET', '/events/view/%00', null],
    ['GET', '/events/index%00.json', null],
    ['GET', '/events/view/%0a', null],
    ['GET', '/events/view/%7f', null],
    ['GET', '/events/view/%c2%85', null],
    ['GET', '/events/view/%c3%a9', 'events/view'],
    ['GET', '/events/view/%c3', null],
    ['GET', '/events/view/%ff', null],
    ['GET', '/events/view/%ed%a0%80', null],
    ['GET', '/events/view/%zz', null],
    ['GET', '/events/view/%4', null],
    ['GET', '/events/view/100%', null]
  ])
})

t.test('raw characters URL parsing would change', async (t) => {
  check(t, [
    ['GET', '/events/view/a+b', 'events/view'],
    ['GET', '/events/view/a b', null],
    ['GET', '/events/view/a\tb', null],
    ['GET', '/events/view/a"b', null],
    ['GET', '/events/view/a<b', null],
    ['GET', '/events/view/a>b', null],
    ['GET', '/events/view/a`b', null],
    ['GET', '/events/view/a{b', null],
    ['GET', '/events/view/a}b', null],
    ['GET', '/events/view/a|b', null],
    ['GET', '/events/view/a^b', null],
    ['GET', '/events/view/é', null],
    ['GET', '/events/view/a\x7fb', null],
    ['GET', '/events/view/1#x', null],
    // The query string is forwarded as received, so URL parsing of it does not matter.
    ['GET', '/events/index?', 'events/index'],
    ['GET', '/events/index?a=b"', 'events/index'],
    ['GET', '/events/index?a=b\'', 'events/index'],
    ['GET', '/events/index?page=2&limit=10', 'events/index']
  ])
})

t.test('target forms, index.php and scheme separators', async (t) => {
  check(t, [
    ['GET', '/events/index?next=http://x/', 'events/index'],
    ['GET', 'http://h/events/index', null],
    ['OPTIONS', '*', null],
    ['GET', '', null],
    ['GET', 'events/index', null],
    ['GET', '/index.php', null],
    ['GET', '/index.php/admin/users/index', null],
    ['GET', '/INDEX.PHP/events', null],
    ['GET', '/index%2ephp/events', null],
    ['GET', '/app/webroot/index.php', null],
    ['GET', '/events/http://x', null]
  ])
})

t.test('controllers camelize and actions ignore case', async (t) => {
  check(t, [
    ['POST', '/sharing_groups/addOrg/1/2', 'sharingGroups/addorg'],
    ['POST', '/sharingGroups/addOrg/1/2', 'sharingGroups/addorg'],
    ['POST', '/SharingGroups/ADDORG/1/2.json', 'sharingGroups/addorg', 'json'],
    ['POST', '/SHARING_GROUPS/addorg/1/2', 'sharingGroups/addorg'],
    ['POST', '/sharinggroups/addorg/1/2', 'sharingGroups/addorg'],
    ['GET', '/auth_keys/index', 'authKeys/index'],
    ['GET', '/galaxy_clusters/view/1', 'galaxyClusters/view'],
    ['POST', '/events/restSearchX', 'events/restsearchx'],
    ['POST', '/events/rest_search', 'events/rest_search'],
    ['POST', '/Events/RestSearch.json', 'events/restsearch', 'json'],
    ['GET', '/no_such_thing/do_it', 'noSuchThing/do_it'],
    ['GET', '/%65vents/%76iew/1', 'events/view'],
    ['GET', '/events/restSearch+', null],
    ['GET', '/events/rest%20search', null],
    ['GET', '/events/rest-search', null],
    ['GET', '/events/_restSearch', null],
    ['GET', '/Admin/users/index', null]
  ])
})

t.test('extensions are stripped from the end of the whole path', async (t) => {
  check(t, [
    ['POST', '/events/add.json', 'events/add', 'json'],
    ['GET', '/events/index.xml', 'events/index', 'xml'],
    ['GET', '/events/index.csv', 'events/index', 'csv'],
    ['GET', '/events/view/1.json', 'events/view', 'json'],
    ['GET', '/events/index/page:2.json', 'events/index', 'json'],
    ['GET', '/events.json', 'events/index', 'json'],
    ['GET', '/.json', 'events/index', 'json'],
    ['GET', '/events/index.html', null],
    ['GET', '/events/index.json/', null],
    ['GET', '/servers/index%3f.json', null],
    ['GET', '/servers/index%23.json', null],
    ['GET', '/events/index%2ejson', null],
    ['GET', '/events/index.j%73on', null],
    // CakePHP cuts at the first lowercase '.json', or everything when there is none.
    ['GET', '/admin/users/view/1.JSON', null],
    ['GET', '/events/index.Json', null],
    ['GET', '/events.json/view/1.json', null],
    ['GET', '/events/view/a.json.json', null]
  ])
})

t.test('named parameters are arguments', async (t) => {
  check(t, [
    ['GET', '/events/index/page:2/limit:10', 'events/index'],
    ['GET', '/attributes/addTag/1/2/local:1', 'attributes/addtag'],
    ['GET', '/events/page:2', null],
    ['GET', '/page:2', null],
    ['GET', '/events/index%3apage', null]
  ])
})

t.test('prefix routing and explicit admin routes', async (t) => {
  check(t, [
    ['POST', '/admin/users/add', 'admin/users/add'],
    ['POST', '/admin/users/ADD', 'admin/users/add'],
    ['GET', '/admin/users', 'admin/users/index'],
    ['GET', '/%61dmin/users/index', 'admin/users/index'],
    ['GET', '/admin/organisations/edit/1', 'admin/organisations/edit'],
    ['GET', '/users/admin_index', 'admin/users/index'],
    ['GET', '/users/admin_index/page:2', 'admin/users/index'],
    ['GET', '/users/admin_index.json', 'admin/users/index', 'json'],
    ['GET', '/roles/admin_index', 'admin/roles/index'],
    ['GET', '/logs/admin_index', 'admin/logs/index'],
    ['GET', '/logs/admin_search', 'admin/logs/search'],
    ['GET', '/audit_logs/admin_index', 'admin/auditLogs/index'],
    ['GET', '/access_logs/admin_index', 'admin/accessLogs/index'],
    ['GET', '/regexp/admin_index', 'admin/regexp/index'],
    ['GET', '/allowedlists/admin_index', 'admin/allowedlists/index'],
    ['POST', '/users/admin_add', null],
    ['POST', '/users/Admin_add', null],
    ['POST', '/users/ADMIN_ADD', null],
    ['GET', '/Users/admin_index', null],
    ['GET', '/auditLogs/admin_index', null],
    ['GET', '/admin', null],
    ['GET', '/admin/', null]
  ])
})

t.test('plugin routes are rejected', async (t) => {
  check(t, [
    ['GET', '/assets', null],
    ['GET', '/sys_log/logs/index', null],
    ['GET', '/admin/oidc_auth/x/y', null]
  ])
})

t.test('REST resource routes depend on the method', async (t) => {
  check(t, [
    ['GET', '/events', 'events/index'],
    ['HEAD', '/events', 'events/index'],
    ['POST', '/events', 'events/add'],
    ['PUT', '/events', 'events/index'],
    ['GET', '/events/1', 'events/view'],
    ['GET', `/events/${UUID}`, 'events/view'],
    ['PUT', '/events/1', 'events/edit'],
    ['POST', '/events/1', 'events/edit'],
    ['DELETE', '/events/1', 'events/delete'],
    ['DELETE', '/events/1.json', 'events/delete', 'json'],
    ['DELETE', '/events/1/', 'events/delete'],
    ['DELETE', `/attributes/${UUID.toUpperCase()}`, 'attributes/delete'],
    ['POST', '/attributes', 'attributes/add'],
    // No resource route matches: CakePHP takes the id as the action name.
    ['PATCH', '/events/1', 'events/1'],
    ['HEAD', '/events/1', 'events/1'],
    ['DELETE', '/events/1/2', 'events/1'],
    ['DELETE', '/Events/1', 'events/1'],
    ['DELETE', '/events/abc', 'events/abc'],
    ['DELETE', '/sharing_groups/1', 'sharingGroups/1'],
    ['get', '/events/1', 'events/1']
  ])
})

t.test('MISP routes.php specials', async (t) => {
  check(t, [
    ['POST', '/', 'events/index'],
    ['GET', '/users/login', 'users/login'],
    ['HEAD', `/events/view/${UUID}`, 'events/view'],
    ['GET', '/users/view/me.json', 'users/view', 'json'],
    ['GET', '/events/view/1/attributesPage:2', 'events/view']
  ])
})

t.test('rejection messages name the rule and never a key', async (t) => {
  const key = 'A'.repeat(40)
  const result = canonicalize('GET', `/${key}/x:y`)
  t.notOk(result.ok, 'a key in the action position is rejected')
  if (!result.ok) t.notMatch(result.message, key, 'the message does not echo the key')

  const admin = canonicalize('POST', '/users/admin_add')
  if (!admin.ok) t.match(admin.message, '/admin/{controller}/{action}', 'the message says the fix')
})

t.test('findKeyInUrl finds keys in path and query', async (t) => {
  const found: Array<[string, string]> = [
    ['/events/index/apikey:K', 'named parameter \'apikey:\' in path segment 3'],
    ['/events/index/APIKEY:K', 'named parameter \'apikey:\' in path segment 3'],
    ['/events/index/%61pikey%3aK', 'named parameter \'apikey:\' in path segment 3'],
    ['/events/index/apikey[x]:K', 'named parameter \'apikey:\' in path segment 3'],
    ['/apikey:K', 'named parameter \'apikey:\' in path segment 1'],
    ['/events/index%2fapikey:K', 'named parameter \'apikey:\' in path segment 3'],
    ['/events?apikey=K', 'query parameter \'apikey\''],
    ['/events?a=1&Key=K', 'query parameter \'key\''],
    ['/events?authkey[]=K', 'query parameter \'authkey\''],
    ['/events?%20%20apikey=K', 'query parameter \'apikey\''],
    ['/events?+key=K', 'query parameter \'key\''],
    ['/events?%61uthkey=K', 'query parameter \'authkey\''],
    ['/events?apikey%00x=K', 'query parameter \'apikey\''],
    ['/events?key', 'query parameter \'key\'']
  ]
  for (const [target, where] of found) t.equal(findKeyInUrl(target), where, target)

  const none = ['/events/index', '/events/view/apikey', '/events?keys=1', '/events?auth.key=1',
    '/events?a_apikey=1', '/events?x=apikey', '/events/index/page:apikey', '/events?key_[=1']
  for (const target of none) t.equal(findKeyInUrl(target), undefined, target)
})

t.test('findKeyInUrl never returns the key', async (t) => {
  const key = 'b'.repeat(40)
  const where = findKeyInUrl(`/events/index/apikey:${key}?apikey=${key}`) ?? ''
  t.notMatch(where, key, 'the location does not contain the key')
})

t.test('hasMethodOverrideInQuery reads names as PHP does', async (t) => {
  const yes = ['/x?_method=PUT', '/x?.method=PUT', '/x?%20_method=PUT', '/x?+_method=PUT',
    '/x?%5fmethod=PUT', '/x?%5Fmethod=PUT', '/x?_method[]=PUT', '/x?_method[a]=PUT',
    '/x?a=1&_method=PUT', '/x?_METHOD=PUT', '/x?%2emethod=PUT', '/x?_method', '/x?_method%00x=1',
    '/x? .method=PUT',
    // ';' separates fields when php.ini's arg_separator.input lists it.
    '/x?a;_method=1',
    // PHP reads '_method[' as '_method_', but a multipart scanner could cut a longer name
    // there, so any '_method[' prefix counts.
    '/x?_method[=1', '/x?_method[a%20b]=1']
  for (const target of yes) t.ok(hasMethodOverrideInQuery(target), target)

  const no = ['/x', '/x?method=PUT', '/x?__method=PUT', '/x?a=_method', '/x?_method_=1',
    '/_method?a=1', '/x?x_method=1', '/x?_methodx[a]=1']
  for (const target of no) t.notOk(hasMethodOverrideInQuery(target), target)
})
