import t from 'tap'
import { BUILT_IN_PROFILES, BUILT_IN_RULES } from '../src/acl/builtin.js'
import { routeName } from '../src/acl/pattern.js'
import { compileProfile, findMatchingRule, type Profile } from '../src/acl/profile.js'
import { parseRule } from '../src/acl/rule.js'
import { findUnmatchedRules } from '../src/acl/unmatched.js'
import { digestKey } from '../src/digest.js'
import { parsePolicy, PolicyLoadError } from '../src/policy/load.js'
import { canonicalize } from '../src/route/canonical.js'
import { catalogueRoutes, classifyRoute } from '../src/route/catalogue.js'

const OPTIONS = { now: Date.parse('2026-12-10T12:00:00Z'), env: {} }

function profileOf (rules: readonly string[]): Profile {
  const compiled = compileProfile('test', rules, false)
  if (!compiled.ok) throw new Error(compiled.problems.map((problem) => problem.message).join('; '))
  return compiled.profile
}

/** Returns the effect of the profile on a request, or 'deny' when no rule matches. */
function effectOf (profile: Profile, method: string, target: string): string {
  const canonical = canonicalize(method, target)
  if (!canonical.ok) throw new Error(canonical.message)
  return findMatchingRule(profile, method, routeName(canonical.route))?.effect ?? 'deny'
}

function policyText (keyFields: string[], profiles = ''): string {
  return [
    'version: 1',
    'keys:',
    '  - id: key-a',
    '    owner: soc@example.org',
    '    purpose: tests',
    `    hash: ${digestKey('example-key-a')}`,
    '    allowed_ips: [192.0.2.10]',
    ...keyFields.map((line) => `    ${line}`),
    profiles
  ].join('\n') + '\n'
}

async function loadProblems (text: string): Promise<string[]> {
  try {
    await parsePolicy(text, 'policy.yaml', OPTIONS)
  } catch (error) {
    if (error instanceof PolicyLoadError) return error.problems.map((problem) => problem.message)
    throw error
  }
  return []
}

t.test('rule syntax errors quote the rule', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['allow GET', /has 2 word\(s\), not 3/],
    ['allow GET events/* extra', /has 4 word\(s\)/],
    ['permit GET events/*', /starts with "permit"; a rule starts with allow or deny/],
    ['Allow GET events/*', /starts with "Allow"/],
    ['allow get events/*', /names the method "get"/],
    ['allow GET, events/*', /names the method ""/],
    ['allow GET,FETCH events/*', /names the method "FETCH"/],
    ['allow GET /events/*', /starts with "\/"/],
    ['allow GET events', /has 1 part\(s\)/],
    ['allow GET admin/users', /has 2 part\(s\)/],
    ['allow GET events/view/1', /has 3 part\(s\)/],
    ['allow GET events/view.json', /ends in an extension/],
    ['allow GET events/re?Search', /may contain only letters, digits/],
    ['allow GET event-s/index', /may contain only letters, digits/]
  ]
  for (const [text, pattern] of cases) {
    const parsed = parseRule(text)
    t.equal(parsed.ok, false, `${text}: rejected`)
    if (parsed.ok) continue
    t.match(parsed.message, JSON.stringify(text), `${text}: message quotes the rule`)
    t.match(parsed.message, pattern, `${text}: message says why`)
  }
})

t.test('first matching rule wins, default deny', async (t) => {
  const profile = profileOf(['deny * events/delete', 'allow * events/*', 'deny * admin/*', 'allow GET *'])
  t.equal(effectOf(profile, 'POST', '/events/delete/1'), 'deny', 'deny before allow')
  t.equal(effectOf(profile, 'DELETE', '/events/1'), 'deny', 'REST delete is events/delete')
  t.equal(effectOf(profile, 'POST', '/events/add'), 'allow', 'events/* allows add')
  t.equal(effectOf(profile, 'GET', '/admin/users/index'), 'deny', 'admin/* denies before allow GET *')
  t.equal(effectOf(profile, 'GET', '/tags/index'), 'allow', 'allow GET *')
  t.equal(effectOf(profile, 'POST', '/tags/add'), 'deny', 'no rule matches POST tags/add')
})

t.test('patterns follow the catalogue spelling', async (t) => {
  const profile = profileOf(['allow POST sharing_groups/addOrg', 'allow GET events/restSearch', 'allow GET,HEAD Events/View'])
  for (const target of ['/sharing_groups/addOrg/1/2', '/sharingGroups/addOrg/1/2', '/SharingGroups/ADDORG/1/2.json', '/sharing_groups/addorg/1/2']) {
    t.equal(effectOf(profile, 'POST', target), 'allow', `POST ${target}`)
  }
  t.equal(effectOf(profile, 'GET', '/events/restSearchX'), 'deny', 'restSearchX is another action')
  t.equal(effectOf(profile, 'GET', '/events/restSearch'), 'allow', 'restSearch')
  t.equal(effectOf(profile, 'GET', '/events/view/1'), 'allow', 'controller and action in any case')
  t.equal(effectOf(profile, 'HEAD', '/events/view/1'), 'allow', 'HEAD listed')
  t.equal(effectOf(profile, 'POST', '/events/view/1'), 'deny', 'POST not listed')
})

t.test('wildcards stay inside one name', async (t) => {
  const profile = profileOf(['allow GET events/rest*', 'allow GET *s/index', 'allow GET admin/users/*'])
  t.equal(effectOf(profile, 'GET', '/events/restSearch'), 'allow', 'prefix wildcard')
  t.equal(effectOf(profile, 'GET', '/events/restSearchExport'), 'allow', 'prefix wildcard, longer name')
  t.equal(effectOf(profile, 'GET', '/events/view/1'), 'deny', 'prefix wildcard does not match view')
  t.equal(effectOf(profile, 'GET', '/tags/index'), 'allow', 'controller wildcard')
  t.equal(effectOf(profile, 'GET', '/admin/roles/index'), 'deny', '*s/index does not match an admin route')
  t.equal(effectOf(profile, 'GET', '/admin/users/view/1'), 'allow', 'admin controller pattern')
  t.equal(effectOf(profile, 'GET', '/users/view/1'), 'deny', 'admin pattern does not match the plain route')
  const all = profileOf(['allow * *'])
  t.equal(effectOf(all, 'DELETE', '/admin/users/delete/1'), 'allow', '* matches admin routes')
  const anyPlain = profileOf(['allow * */*'])
  t.equal(effectOf(anyPlain, 'GET', '/admin/users/index'), 'deny', '*/* does not match admin routes')
})

t.test('built-in profiles name catalogue routes only', async (t) => {
  const known = new Set(catalogueRoutes().map((route) => route.toLowerCase()))
  for (const [name, rules] of Object.entries(BUILT_IN_RULES)) {
    for (const rule of rules) {
      const pattern = rule.split(' ')[2] ?? ''
      t.notMatch(pattern, /\*/, `${name}: ${rule} has no wildcard`)
      t.ok(known.has(normalizeRoute(pattern)), `${name}: ${rule} names a catalogue route`)
    }
  }
  t.same([...BUILT_IN_PROFILES.keys()], ['search', 'sightings', 'ingest', 'sync-pull', 'sync-push'])
})

t.test('built-in profiles stay in their class', async (t) => {
  const readOnly = ['search', 'sightings', 'sync-pull']
  for (const [name, rules] of Object.entries(BUILT_IN_RULES)) {
    for (const rule of rules) {
      const routeClass = classifyCatalogueRoute(rule.split(' ')[2] ?? '')
      t.not(routeClass.kind, 'sensitive', `${name}: ${rule} is not sensitive`)
      t.notMatch(rule, /delete/i, `${name}: ${rule} deletes nothing`)
      if (readOnly.includes(name) && !rule.includes('sightings/add')) {
        t.equal(routeClass.kind, 'read', `${name}: ${rule} is a read`)
      }
    }
  }
})

t.test('built-in profiles allow their clients', async (t) => {
  const allows = (name: string, method: string, target: string): string => {
    const profile = BUILT_IN_PROFILES.get(name)
    if (profile === undefined) throw new Error(`no built-in profile ${name}`)
    return effectOf(profile, method, target)
  }
  const uuid = '5a3c2fcd-8328-42bb-a95e-4f4402de0b81'
  t.equal(allows('search', 'POST', '/events/restSearch'), 'allow', 'search: restSearch')
  t.equal(allows('search', 'GET', '/users/view/me'), 'allow', 'search: PyMISP start-up')
  t.equal(allows('search', 'GET', '/events/view/1'), 'deny', 'search: no event view')
  t.equal(allows('sightings', 'POST', '/sightings/add/1'), 'allow', 'sightings: add')
  t.equal(allows('sightings', 'POST', '/sightings/delete/1'), 'deny', 'sightings: no delete')
  t.equal(allows('ingest', 'POST', '/events'), 'allow', 'ingest: REST add')
  t.equal(allows('ingest', 'PUT', '/events/1'), 'allow', 'ingest: REST edit')
  t.equal(allows('ingest', 'DELETE', '/events/1'), 'deny', 'ingest: REST delete')
  t.equal(allows('ingest', 'POST', '/events/publish/1'), 'deny', 'ingest: no publish')
  t.equal(allows('ingest', 'POST', '/attributes/delete/1'), 'deny', 'ingest: no attribute delete')
  t.equal(allows('sync-push', 'HEAD', `/events/view/${uuid}`), 'allow', 'sync-push: HEAD event view')
  t.equal(allows('sync-push', 'GET', `/events/view/${uuid}`), 'deny', 'sync-push: no GET event view')
  t.equal(allows('sync-push', 'POST', '/events/add/metadata:1'), 'allow', 'sync-push: add')
  t.equal(allows('sync-push', 'POST', `/events/edit/${uuid}/metadata:1`), 'allow', 'sync-push: edit')
  t.equal(allows('sync-push', 'POST', `/sightings/bulkSaveSightings/${uuid}`), 'allow', 'sync-push: sightings')
  t.equal(allows('sync-pull', 'POST', '/events/index'), 'allow', 'sync-pull: index')
  t.equal(allows('sync-pull', 'HEAD', `/events/view/${uuid}`), 'allow', 'sync-pull: HEAD event view')
  t.equal(allows('sync-pull', 'GET', `/events/view/${uuid}/deleted[]:0/excludeLocalTags:1`), 'allow', 'sync-pull: event view with named parameters')
  t.equal(allows('sync-pull', 'POST', '/events/add'), 'deny', 'sync-pull: no add')
  t.equal(allows('sync-pull', 'GET', '/servers/pull/1/full'), 'deny', 'sync-pull: no pull on this side')
})

t.test('loader compiles profiles and resolves keys', async (t) => {
  const policy = await parsePolicy(policyText(['profile: reader', 'allow_sensitive: [users, auth_keys]'],
    'profiles:\n  reader: { rules: ["allow GET events/view", "deny * *"] }'), 'policy.yaml', OPTIONS)
  t.equal(policy.keys[0]?.profile, 'reader', 'profile name')
  t.same([...(policy.keys[0]?.allowSensitive ?? [])], ['users', 'auth_keys'], 'sensitive categories')
  t.equal(policy.profiles.get('reader')?.rules.length, 2, 'rules compiled')
  t.equal(policy.profiles.get('search')?.builtIn, true, 'built-ins present')
  const builtIn = await parsePolicy(policyText(['profile: sync-push']), 'policy.yaml', OPTIONS)
  t.equal(builtIn.keys[0]?.profile, 'sync-push', 'built-in usable without definition')
  t.same([...(builtIn.keys[0]?.allowSensitive ?? ['x'])], [], 'allow_sensitive defaults to none')
})

t.test('loader rejects bad profiles', async (t) => {
  const cases: Array<[string, string[], string, RegExp]> = [
    ['unknown profile', ['profile: raeder'], 'profiles:\n  reader: { rules: ["allow GET events/view"] }',
      /key "key-a" \(keys\[0\]\), field "profile": names the profile "raeder", which is neither built in \(search, sightings, ingest, sync-pull, sync-push\) nor defined under profiles\. Did you mean "reader"\?/],
    ['built-in redefined', [], 'profiles:\n  search: { rules: ["allow * *"] }', /field "profiles\.search": redefines the built-in profile "search"/],
    ['invalid rule', [], 'profiles:\n  reader: { rules: ["allow GET events/view", "allow GETT events/*"] }',
      /field "profiles\.reader\.rules\[1\]": the rule "allow GETT events\/\*" names the method "GETT"/],
    ['empty rules', [], 'profiles:\n  reader: { rules: [] }', /field "profiles\.reader\.rules": must be a non-empty list of rules/],
    ['rule not text', [], 'profiles:\n  reader: { rules: [{ allow: GET }] }', /field "profiles\.reader\.rules\[0\]": must be a rule written as text/],
    ['unknown profile field', [], 'profiles:\n  reader: { rules: ["allow * *"], extends: search }', /unknown field "extends" in a profile/],
    ['bad profile name', [], 'profiles:\n  Reader: { rules: ["allow * *"] }', /field "profiles\.Reader": is not a valid profile name/],
    ['profiles not a mapping', [], 'profiles: [reader]', /field "profiles": must be a mapping of profile names/],
    ['unknown category', ['allow_sensitive: [user]'], '', /field "allow_sensitive\[0\]": is not a sensitive category: "user"\. The categories are users, auth_keys, .* Did you mean "users"\?/],
    ['category not a list', ['allow_sensitive: users'], '', /field "allow_sensitive": must be a list of sensitive categories/],
    ['profile not a name', ['profile: [search]'], '', /field "profile": must be the name of a profile/]
  ]
  for (const [name, keyFields, profiles, pattern] of cases) {
    const problems = await loadProblems(policyText(keyFields, profiles))
    t.equal(problems.length, 1, `${name}: one problem (${problems.join(' | ')})`)
    t.match(problems[0], pattern, `${name}: message`)
  }
})

t.test('unmatched rules are warnings', async (t) => {
  const policy = await parsePolicy(policyText([], 'profiles:\n  reader: { rules: ["allow GET event/*", "allow GET events/*", "deny * admin/*", "allow GET admin/events/*", "allow POST eventz/restSearch"] }'), 'policy.yaml', OPTIONS)
  const warnings = findUnmatchedRules(policy)
  t.same(warnings.map((warning) => warning.rule), ['allow GET event/*', 'allow GET admin/events/*', 'allow POST eventz/restSearch'], 'rules matching no catalogue route')
  t.same(warnings.map((warning) => warning.index), [0, 3, 4], 'rule positions')
  t.match(warnings[0]?.message, /^profile "reader", rules\[0\]: the rule "allow GET event\/\*" matches no route/, 'message names profile and rule')
  const builtInOnly = await parsePolicy(policyText(['profile: search']), 'policy.yaml', OPTIONS)
  t.same(findUnmatchedRules(builtInOnly), [], 'built-in profiles give no warnings')
})

function normalizeRoute (pattern: string): string {
  const canonical = canonicalize('GET', `/${pattern}`)
  if (!canonical.ok) throw new Error(canonical.message)
  return canonical.route.route.toLowerCase()
}

function classifyCatalogueRoute (pattern: string): ReturnType<typeof classifyRoute> {
  // Profiles allow users/view for PyMISP's users/view/me; any other id is sensitive.
  const target = pattern === 'users/view' ? '/users/view/me' : `/${pattern}`
  const canonical = canonicalize('GET', target)
  if (!canonical.ok) throw new Error(canonical.message)
  return classifyRoute(canonical.route)
}
