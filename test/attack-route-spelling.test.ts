import t from 'tap'
import { startHarness } from './helpers/harness.js'
import { auth, expectDenied, expectForwarded } from './helpers/expect.js'

const JSON_BODY = ['content-type', 'application/json']
const ADD_ORG = ['/sharing_groups/addOrg/1/2', '/sharingGroups/addOrg/1/2', '/SharingGroups/ADDORG/1/2.json',
  '/sharing_groups/addorg/1/2/', '/Sharing_Groups/AddOrg/1/2', '/sharing%5fgroups/addOrg/1/2', '/sharingGroups/add%4frg/1/2']

t.test('one route, any spelling, allowed', async (t) => {
  const h = await startHarness(t, {
    keys: [{ id: 'sg', readOnly: false, fields: ['profile: sg-admin', 'allow_sensitive: [sharing_groups]'] }],
    profiles: { 'sg-admin': ['allow POST sharing_groups/addOrg'] }
  })
  const key = h.keys.sg as string
  for (const target of ADD_ORG) {
    await expectForwarded(t, h, ['POST', target, [...auth(key), ...JSON_BODY], '{}'], 404)
  }
  await expectDenied(t, h, ['POST', '/sharing_groups/removeOrg/1/2', [...auth(key), ...JSON_BODY], '{}'], 403, 'profile_denied')
  await expectDenied(t, h, ['GET', '/sharing_groups/addOrg/1/2', auth(key)], 403, 'profile_denied')
})

t.test('one route, any spelling, denied', async (t) => {
  const h = await startHarness(t, {
    keys: [{ id: 'rw', readOnly: false, fields: ['profile: no-sg', 'allow_sensitive: [sharing_groups]'] }],
    profiles: { 'no-sg': ['deny * sharingGroups/addOrg', 'allow * *'] }
  })
  const key = h.keys.rw as string
  for (const target of ADD_ORG) {
    await expectDenied(t, h, ['POST', target, [...auth(key), ...JSON_BODY], '{}'], 403, 'profile_denied')
  }
  await expectForwarded(t, h, ['POST', '/sharing_groups/removeOrg/1/2', [...auth(key), ...JSON_BODY], '{}'], 404)
})

t.test('similar action names are other routes', async (t) => {
  const h = await startHarness(t, {
    keys: [{ id: 'search', readOnly: false, fields: ['profile: rest'] }],
    profiles: { rest: ['allow POST events/restSearch'] }
  })
  const key = h.keys.search as string
  for (const target of ['/events/restSearchX', '/events/restSearchExport', '/events/restSearc', '/events/rest_search', '/attributes/restSearch', '/events/index']) {
    await expectDenied(t, h, ['POST', target, [...auth(key), ...JSON_BODY], '{}'], 403, 'profile_denied')
  }
  await expectDenied(t, h, ['POST', '/Events/RestSearch.JSON', [...auth(key), ...JSON_BODY], '{}'], 400, 'ambiguous_path')
  await expectDenied(t, h, ['POST', '/events/restSearch.json.json', [...auth(key), ...JSON_BODY], '{}'], 400, 'ambiguous_path')
  for (const target of ['/events/restSearch', '/Events/RESTSEARCH', '/events/restsearch.json', '/events/restSearch/']) {
    await expectForwarded(t, h, ['POST', target, [...auth(key), ...JSON_BODY], '{}'])
  }
  await expectForwarded(t, h, ['POST', '/events/restSearch/page:2', [...auth(key), ...JSON_BODY], '{}'], 404)
})

t.test('REST resource routes map to actions', async (t) => {
  const h = await startHarness(t, {
    keys: [{ id: 'viewer', readOnly: false, fields: ['profile: view'] }],
    profiles: { view: ['allow GET,HEAD events/view', 'allow GET events/index'] }
  })
  const key = h.keys.viewer as string
  const uuid = '5a3c2fcd-8328-42bb-a95e-4f4402de0b81'
  await expectDenied(t, h, ['DELETE', '/events/1', auth(key)], 403, 'profile_denied')
  await expectDenied(t, h, ['DELETE', `/events/${uuid}`, auth(key)], 403, 'profile_denied')
  await expectDenied(t, h, ['PUT', '/events/1', [...auth(key), ...JSON_BODY], '{}'], 403, 'profile_denied')
  await expectDenied(t, h, ['POST', '/events/1', [...auth(key), ...JSON_BODY], '{}'], 403, 'profile_denied')
  await expectDenied(t, h, ['POST', '/events', [...auth(key), ...JSON_BODY], '{}'], 403, 'profile_denied')
  // The MISP stand-in serves only /events/view/{id}, so the resource route gets its 404.
  await expectForwarded(t, h, ['GET', `/events/${uuid}`, auth(key)], 404)
  await expectForwarded(t, h, ['HEAD', `/events/view/${uuid}`, auth(key)])
  await expectForwarded(t, h, ['GET', '/events', auth(key)], 404)
})

t.test('profile denial message names profile and route', async (t) => {
  const h = await startHarness(t, {
    keys: [{ id: 'viewer', readOnly: false, fields: ['profile: view'] }],
    profiles: { view: ['deny DELETE *', 'allow GET events/view'] }
  })
  const { send } = await import('./helpers/harness.js')
  const denied = await send(h, 'DELETE', '/events/1', auth(h.keys.viewer as string))
  t.equal(denied.body.message, 'The API key "viewer" has the profile "view", which does not allow DELETE events/delete: the rule "deny DELETE *" denies it. Ask the MISP administrator to change the key\'s profile.', 'deny rule named')
  const unmatched = await send(h, 'GET', '/tags/index', auth(h.keys.viewer as string))
  t.equal(unmatched.body.message, 'The API key "viewer" has the profile "view", which does not allow GET tags/index: no rule of the profile matches. Ask the MISP administrator to change the key\'s profile.', 'no match named')
  t.equal(unmatched.body.name, 'Not allowed by the API key\'s profile', 'MISP error name')
})

t.test('read-only applies on top of a profile', async (t) => {
  const h = await startHarness(t, {
    keys: [{ id: 'ro', fields: ['profile: everything'] }],
    profiles: { everything: ['allow * *'] }
  })
  const key = h.keys.ro as string
  await expectDenied(t, h, ['POST', '/events/add', [...auth(key), ...JSON_BODY], '{}'], 403, 'read_only')
  await expectDenied(t, h, ['GET', '/servers/pull/1', auth(key)], 403, 'read_only')
  await expectForwarded(t, h, ['POST', '/events/restSearch', [...auth(key), ...JSON_BODY], '{}'])
})
