import t from 'tap'
import { startHarness } from './helpers/harness.js'
import { auth, expectDenied, expectForwarded } from './helpers/expect.js'

// The key may reach events/* only, and is allowed the users category, so the profile is
// the only rule between these targets and the admin user list.
async function eventsOnly (t: Parameters<typeof startHarness>[0]): Promise<{ h: Awaited<ReturnType<typeof startHarness>>, key: string }> {
  const h = await startHarness(t, {
    keys: [{ id: 'events', readOnly: false, fields: ['profile: events-only', 'allow_sensitive: [users]'] }],
    profiles: { 'events-only': ['allow * events/*'] }
  })
  return { h, key: h.keys.events as string }
}

t.test('dot segments and encoded separators', async (t) => {
  const { h, key } = await eventsOnly(t)
  const targets = [
    '/events/../admin/users/index', '/events/..%2fadmin/users', '/events/%5c..%5cadmin/users', '/events//../admin/users',
    '/events/%2e%2e/admin/users/index', '/events/.%2e/admin/users', '/events/%2E%2E/admin/users', '/%2e%2e/admin/users/index',
    '/events/./restSearch', '/events/restSearch/..', '/events/restSearch/.', '/events/view/1/%2e%2e/%2e%2e/admin/users/index',
    '/events%2fview/1', '/events/view%2f..%2f..%2fadmin%2fusers', '/events%5Cview/1', '/events/%20/../admin/users',
    '/events/view.json/../../admin/users'
  ]
  for (const target of targets) {
    await expectDenied(t, h, ['GET', target, auth(key)], 400, 'ambiguous_path')
  }
  await expectForwarded(t, h, ['POST', '/events/restSearch', [...auth(key), 'content-type', 'application/json'], '{}'])
})

t.test('empty segments, parameters and separators', async (t) => {
  const { h, key } = await eventsOnly(t)
  const targets = [
    '//admin/users/index', '/events//view/1', '/admin;x=1/users/index', '/events;/view/1', '/events/view/1;/admin',
    '/events/view/1%3b', '/servers/index%3f.json', '/events/view/1%23/../../admin', '/events/view/1%3f/../admin',
    '/index.php/admin/users/index', '/events/view/1.json.php', '/events/view/1%00', '/events/view/%0a', '/events/view/%7f'
  ]
  for (const target of targets) {
    await expectDenied(t, h, ['GET', target, auth(key)], 400, 'ambiguous_path')
  }
  await expectForwarded(t, h, ['POST', '/events/restSearch/', [...auth(key), 'content-type', 'application/json'], '{}'])
})

t.test('encodings decoded once only', async (t) => {
  const { h, key } = await eventsOnly(t)
  for (const target of ['/events/%252e%252e/admin/users', '/events/%25%32%65/admin', '/events/view/%u002e', '/events/view/%ff', '/events/view/%c0%ae']) {
    await expectDenied(t, h, ['GET', target, auth(key)], 400, 'ambiguous_path')
  }
  // The MISP stand-in matches paths literally, so it returns 404 for this spelling.
  await expectForwarded(t, h, ['POST', '/%65vents/rest%53earch', [...auth(key), 'content-type', 'application/json'], '{}'], 404)
})

t.test('spellings of the admin prefix', async (t) => {
  const { h, key } = await eventsOnly(t)
  for (const target of ['/%61dmin/users/index', '/admin/Users/Index', '/%61%64%6d%69%6e/users/index', '/users/admin_index', '/admin/events/view/1', '/admin/users/index.json']) {
    await expectDenied(t, h, ['GET', target, auth(key)], 403, 'profile_denied')
  }
  for (const target of ['/ADMIN/users/index', '/Admin/users/index', '/users/admin_view/1', '/events/admin_index']) {
    await expectDenied(t, h, ['GET', target, auth(key)], 400, 'ambiguous_path')
  }
  await expectDenied(t, h, ['GET', 'http://misp.test/admin/users/index', auth(key)], 400, 'malformed_request')
})

t.test('other controllers and plugins', async (t) => {
  const { h, key } = await eventsOnly(t)
  for (const target of ['/users/view/me', '/event/view/1', '/eventsx/view/1', '/sharing_groups/index', '/events_blocklists/index']) {
    await expectDenied(t, h, ['GET', target, auth(key)], 403, 'profile_denied')
  }
  for (const target of ['/sys_log/admin/users', '/debug_kit/toolbar', '/events+/view/1', '/events/view:1/x']) {
    await expectDenied(t, h, ['GET', target, auth(key)], 400, 'ambiguous_path')
  }
  await expectForwarded(t, h, ['POST', '/events/restSearch.json', [...auth(key), 'content-type', 'application/json'], '{}'])
})
