import t from 'tap'
import { send, startHarness, type Harness } from './helpers/harness.js'
import { auth, expectDenied, expectForwarded } from './helpers/expect.js'

const JSON_BODY = ['content-type', 'application/json']

/** Targets in every sensitive category, each with a method MISP changes state on. */
const SENSITIVE: Array<[category: string, method: string, target: string]> = [
  ['users', 'POST', '/admin/users/add'], ['users', 'GET', '/admin/users/index'], ['users', 'POST', '/users/edit'],
  ['users', 'POST', '/users/initiatePasswordReset/1'], ['users', 'POST', '/admin/users/massToggleField/disabled/1'],
  ['auth_keys', 'POST', '/auth_keys/add/me'], ['auth_keys', 'POST', '/authKeys/edit/1'], ['auth_keys', 'POST', '/users/resetauthkey/me'],
  ['auth_keys', 'GET', '/events/automation'],
  ['sharing_groups', 'POST', '/sharing_groups/addOrg/1/2'], ['sharing_groups', 'POST', '/sharingGroups/edit/1'],
  ['sync_servers', 'GET', '/servers/pull/1/full'], ['sync_servers', 'GET', '/servers/push/1/full'], ['sync_servers', 'POST', '/servers/add'],
  ['settings', 'POST', '/servers/serverSettingsEdit/MISP.baseurl'], ['settings', 'HEAD', '/servers/serverSettingsEdit/MISP.baseurl'],
  ['settings', 'OPTIONS', '/servers/serverSettingsEdit/MISP.baseurl'], ['settings', 'POST', '/api/rest'],
  ['roles', 'POST', '/admin/roles/add'], ['roles', 'POST', '/admin/roles/set_default/1'],
  ['workflows', 'POST', '/workflows/edit/1'], ['workflows', 'POST', '/workflows/toggleModule/x/1'],
  ['organisations', 'POST', '/admin/organisations/add'], ['organisations', 'POST', '/admin/organisations/delete/1']
]

function auditLines (h: Harness): Array<Record<string, unknown>> {
  return h.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.audit === true)
}

async function counted (h: Harness, keyId: string, category: string, outcome: string): Promise<number> {
  const metric = await h.metrics.sensitiveRequests.get()
  const value = metric.values.find((v) => v.labels.key_id === keyId && v.labels.category === category && v.labels.outcome === outcome)
  return value?.value ?? 0
}

function request (method: string, target: string, key: string): [string, string, string[], string | undefined] {
  const hasBody = method !== 'GET' && method !== 'HEAD'
  return [method, target, hasBody ? [...auth(key), ...JSON_BODY] : auth(key), hasBody ? '{}' : undefined]
}

t.test('sensitive actions need allow_sensitive', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }] })
  for (const [category, method, target] of SENSITIVE) {
    await expectDenied(t, h, request(method, target, h.keys.rw as string), 403, 'sensitive_action', `${category}: `)
  }
  await expectForwarded(t, h, ['POST', '/events/add', [...auth(h.keys.rw as string), ...JSON_BODY], '{}'])
  await expectForwarded(t, h, ['GET', '/users/view/me', auth(h.keys.rw as string)])
})

t.test('each category is allowed on its own', async (t) => {
  const categories = [...new Set(SENSITIVE.map(([category]) => category))]
  const h = await startHarness(t, { keys: categories.map((category) => ({ id: category.replace('_', '-'), readOnly: false, fields: [`allow_sensitive: [${category}]`] })) })
  for (const [category, method, target] of SENSITIVE) {
    for (const other of categories) {
      const key = h.keys[other.replace('_', '-')] as string
      if (other === category) await expectForwarded(t, h, request(method, target, key), 404, `${other} key: `)
      else await expectDenied(t, h, request(method, target, key), 403, 'sensitive_action', `${other} key: `)
    }
  }
})

t.test('sensitive requests are audited', async (t) => {
  const h = await startHarness(t, {
    keys: [{ id: 'admin', readOnly: false, fields: ['allow_sensitive: [users]'] }, { id: 'rw', readOnly: false }, { id: 'far', readOnly: false, allowedIps: ['10.0.0.0/8'], fields: ['allow_sensitive: [users]'] }]
  })
  const allowed = await send(h, 'POST', '/admin/users/add', [...auth(h.keys.admin as string), ...JSON_BODY], '{}')
  const denied = await send(h, 'POST', '/Admin/users/add', [...auth(h.keys.rw as string), ...JSON_BODY], '{}')
  const deniedSpelling = await send(h, 'POST', '/admin/Users/ADD', [...auth(h.keys.rw as string), ...JSON_BODY], '{}')
  const elsewhere = await send(h, 'POST', '/admin/users/add', [...auth(h.keys.far as string), ...JSON_BODY], '{}')
  await send(h, 'POST', '/events/add', [...auth(h.keys.rw as string), ...JSON_BODY], '{}')
  await send(h, 'POST', '/admin/users/add', [...auth('A'.repeat(40)), ...JSON_BODY], '{}')
  await h.proxy.close()

  t.equal(denied.body.reason, 'ambiguous_path', '/Admin is no admin prefix and is rejected before the sensitive check')
  const lines = auditLines(h)
  t.equal(lines.length, 3, 'one audit line per sensitive request with a known key, none for others')
  const [first, second, third] = lines
  t.match(first, { level: 40, audit: true, key_id: 'admin', client: '127.0.0.1', method: 'POST', route: 'admin/users/add', category: 'users', status: 404, outcome: 'allowed', request_id: allowed.headers['x-request-id'], request_time: '2026-12-04T12:00:00.000Z' }, 'allowed request')
  t.match(second, { audit: true, key_id: 'rw', route: 'admin/users/add', category: 'users', status: 403, outcome: 'denied', reason: 'sensitive_action', request_id: deniedSpelling.headers['x-request-id'] }, 'denied request')
  t.match(third, { audit: true, key_id: 'far', route: 'admin/users/add', category: 'users', status: 403, outcome: 'denied', reason: 'ip_not_allowed', request_id: elsewhere.headers['x-request-id'] }, 'request denied before routing')
  t.equal(await counted(h, 'admin', 'users', 'allowed'), 1, 'allowed counted')
  t.equal(await counted(h, 'rw', 'users', 'denied'), 1, 'denied counted')
  t.equal(await counted(h, 'far', 'users', 'denied'), 1, 'early denial counted')

})
