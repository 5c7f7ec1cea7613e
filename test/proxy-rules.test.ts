import t from 'tap'
import { NOW, send, sendRaw, startHarness, upstreamCount, type Harness } from './helpers/harness.js'

type Tap = Pick<typeof t, 'equal' | 'type' | 'same' | 'ok' | 'match' | 'notMatch'>

/** Asserts a denial in MISP's error shape with its reason, and that MISP saw nothing. */
async function expectDenied (t: Tap, h: Harness, request: [string, string, string[]?, string?], status: number, reason: string): Promise<void> {
  const before = upstreamCount(h)
  const [method, path, headers, body] = request
  const response = await send(h, method, path, headers, body)
  t.equal(response.status, status, `${method} ${path}: status`)
  t.equal(upstreamCount(h), before, `${method} ${path}: MISP received nothing`)
  if (method === 'HEAD') return // a HEAD response has no body to check
  t.equal(response.body.reason, reason, `${method} ${path}: reason`)
  t.type(response.body.name, 'string', `${method} ${path}: MISP error name`)
  t.type(response.body.message, 'string', `${method} ${path}: MISP error message`)
  t.type(response.body.url, 'string', `${method} ${path}: MISP error url`)
  t.equal(response.body.request_id, response.headers['x-request-id'], `${method} ${path}: request id`)
}

async function expectForwarded (t: Tap, h: Harness, request: [string, string, string[]?, string?], status = 200): Promise<void> {
  const before = upstreamCount(h)
  const [method, path, headers, body] = request
  const response = await send(h, method, path, headers, body)
  t.equal(response.status, status, `${method} ${path}: status`)
  t.equal(upstreamCount(h), before + 1, `${method} ${path}: MISP received it`)
  t.equal(h.standin.requests.at(-1)?.url, path, `${method} ${path}: forwarded byte for byte`)
}

const auth = (key: string): string[] => ['authorization', key]

t.test('malformed requests', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }] })
  const key = h.keys.rw as string
  await expectDenied(t, h, ['GET', '/servers/getVersion', ['x_misp_auth', key]], 400, 'malformed_request')
  await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(key), 'X_Forwarded_For', '10.1.1.1']], 400, 'malformed_request')
  await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(key), 'accept_encoding', 'gzip']], 400, 'malformed_request')
  for (const name of ['X.MISP.AUTH', 'X~MISP~AUTH', 'X*MISP-AUTH', "x'misp-auth", 'x!misp!auth']) {
    await expectDenied(t, h, ['GET', '/servers/getVersion', [name, key]], 400, 'malformed_request')
  }
  const huge = await sendRaw(h, `GET /servers/getVersion HTTP/1.1\r\nHost: x\r\nAuthorization: ${key}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  t.match(huge.statusLine, /^HTTP\/1\.1 431 /, 'oversized headers: 431')
  await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(key), 'content-length', '5'], 'hello'], 400, 'malformed_request')

  const before = upstreamCount(h)
  const absolute = await sendRaw(h, `GET http://misp.test/servers/getVersion HTTP/1.1\r\nHost: misp.test\r\nAuthorization: ${key}\r\nConnection: close\r\n\r\n`)
  t.match(absolute.statusLine, /^HTTP\/1\.1 400 /, 'absolute-form target: 400')
  t.equal(JSON.parse(absolute.body).reason, 'malformed_request', 'absolute-form target: reason')

  const smuggled = await sendRaw(h, `POST /events/add HTTP/1.1\r\nHost: x\r\nAuthorization: ${key}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`)
  t.match(smuggled.statusLine, /^HTTP\/1\.1 400 /, 'Content-Length with Transfer-Encoding: 400')
  t.equal(JSON.parse(smuggled.body).reason, 'malformed_request', 'parser error: reason')

  const garbage = await sendRaw(h, 'GET / HTTP/1.1\r\nHost x\r\n\r\n')
  t.match(garbage.statusLine, /^HTTP\/1\.1 400 /, 'header line without colon: 400')
  t.equal(upstreamCount(h), before, 'MISP received none of the raw requests')
})

t.test('key headers', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'ro' }] })
  const key = h.keys.ro as string
  const cases: Array<[string, string[]]> = [
    ['two Authorization lines', [...auth(key), ...auth(key)]],
    ['Authorization and X-MISP-AUTH', [...auth(key), 'x-misp-auth', key]],
    ['two keys in one header', auth(`${key},${key}`)],
    ['two keys with a space', auth(`${key}, ${key}`)],
    ['Bearer scheme', auth(`Bearer ${key}`)],
    ['Basic scheme', auth(`Basic ${Buffer.from(`${key}:`).toString('base64')}`)],
    ['empty value', auth('')],
    ['not a MISP key', auth(key.slice(1))]
  ]
  for (const [name, headers] of cases) {
    t.comment(name)
    await expectDenied(t, h, ['GET', '/servers/getVersion', headers], 400, 'malformed_key_header')
  }
  await expectForwarded(t, h, ['GET', '/servers/getVersion', ['X-MISP-AUTH', key]])
  await expectForwarded(t, h, ['GET', '/servers/getVersion', auth(`  ${key}`)])
})

t.test('key in the URL', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'ro' }] })
  const key = h.keys.ro as string
  for (const path of [`/events/index?apikey=${key}`, `/events/index?key=${key}`, `/events/index?authkey=${key}`,
    `/events/index?APIKEY=${key}`, `/events/index?api%6bey=${key}`, `/events/index/apikey:${key}`, `/events/index/%61pikey:${key}`,
    `/events/index?a=1;apikey=${key}`, `/events/index?a=1;key=${key}`, `/events/index?api.key=${key}`, `/events/index?api_key=${key}`,
    `/events/index?api+key=${key}`, `/events/index?API%2eKEY=${key}`]) {
    await expectDenied(t, h, ['GET', path, auth(key)], 400, 'key_in_url')
    await expectDenied(t, h, ['GET', path], 400, 'key_in_url')
  }
  const response = await send(h, 'GET', `/events/index/apikey:${key}`, auth(key))
  t.notMatch(response.text, key, 'the error does not echo the key')
  for (const path of ['/servers/getVersion?apikeys=1', '/servers/getVersion?a=1;api_keys=1', '/servers/getVersion?x=apikey', '/servers/getVersion?api.k=1']) {
    await expectForwarded(t, h, ['GET', path, auth(key)])
  }
})

t.test('missing and unknown keys', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'ro' }] })
  await expectDenied(t, h, ['GET', '/servers/getVersion'], 401, 'missing_key')
  await expectDenied(t, h, ['GET', '/servers/getVersion', auth('A'.repeat(40))], 401, 'unknown_key')
  const key = h.keys.ro as string
  await expectDenied(t, h, ['GET', '/servers/getVersion', auth(key.toLowerCase() === key ? key.toUpperCase() : key.toLowerCase())], 401, 'unknown_key')
})

t.test('key state follows the clock', async (t) => {
  const expires = '2026-12-04T12:00:00Z'
  const h = await startHarness(t, {
    keys: [
      { id: 'expiring', fields: [`expires: ${expires}`] },
      { id: 'future', fields: ['not_before: 2026-12-05T00:00:00Z'] },
      { id: 'revoked', fields: ['revoked: { at: 2026-12-01T00:00:00Z, reason: leaked in a CI log }'] }
    ]
  })
  h.clock.now = Date.parse(expires) - 1
  const allowed = await send(h, 'GET', '/servers/getVersion', auth(h.keys.expiring as string))
  t.equal(allowed.status, 200, 'one millisecond before expiry: allowed')
  t.equal(allowed.headers['x-auth-key-expiration'], '2026-12-04T12:00:00.000Z', 'allowed response carries the key expiry')
  h.clock.now = Date.parse(expires)
  await expectDenied(t, h, ['GET', '/servers/getVersion', auth(h.keys.expiring as string)], 401, 'expired_key')
  await expectDenied(t, h, ['GET', '/servers/getVersion', auth(h.keys.future as string)], 401, 'key_not_yet_valid')
  h.clock.now = Date.parse('2026-12-05T00:00:00Z')
  await expectForwarded(t, h, ['GET', '/servers/getVersion', auth(h.keys.future as string)])
  await expectDenied(t, h, ['GET', '/servers/getVersion', auth(h.keys.revoked as string)], 401, 'revoked_key')
  const revoked = await send(h, 'GET', '/servers/getVersion', auth(h.keys.revoked as string))
  t.notMatch(revoked.text, 'CI log', 'the revocation reason stays private')
  h.clock.now = NOW
})

t.test('client address', async (t) => {
  const h = await startHarness(t, {
    keys: [{ id: 'ten', allowedIps: ['10.0.0.0/8'] }, { id: 'local', allowedIps: ['127.0.0.7/32'] }, { id: 'v6', allowedIps: ['10.0.0.0/8', '127.0.0.1/32'] }],
    localAddress: '127.0.0.7'
  })
  const ten = h.keys.ten as string
  for (const header of [['x-forwarded-for', '10.1.1.1'], ['forwarded', 'for=10.1.1.1'], ['x-real-ip', '10.1.1.1'], ['true-client-ip', '10.1.1.1'], ['client-ip', '10.1.1.1']]) {
    await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(ten), ...header]], 403, 'ip_not_allowed')
  }
  await expectForwarded(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.local as string), 'x-forwarded-for', '10.1.1.1']])
  const seen = h.standin.requests.at(-1)
  t.same(headerValues(seen?.rawHeaders ?? [], 'x-forwarded-for'), ['127.0.0.7'], 'MISP sees one X-Forwarded-For: the peer')
})

t.test('client address through a trusted proxy', async (t) => {
  const h = await startHarness(t, {
    keys: [{ id: 'ten', allowedIps: ['10.0.0.0/8'] }, { id: 'doc', allowedIps: ['203.0.113.0/24'] }],
    trustedProxies: ['127.0.0.2/32'],
    localAddress: '127.0.0.2'
  })
  await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.ten as string), 'x-forwarded-for', '10.1.1.1, 203.0.113.7']], 403, 'ip_not_allowed')
  await expectForwarded(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.doc as string), 'x-forwarded-for', '10.1.1.1, 203.0.113.7']])
  t.same(headerValues(h.standin.requests.at(-1)?.rawHeaders ?? [], 'x-forwarded-for'), ['203.0.113.7'], 'MISP sees the client decided from the right')
  await expectForwarded(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.ten as string), 'x-forwarded-for', '203.0.113.9', 'x-forwarded-for', '10.1.1.1']])
  for (const bad of ['127.1', '012.1.2.3', '10.1.1.1, unknown', '', '10.1.1.1:80']) {
    await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.ten as string), 'x-forwarded-for', bad]], 403, 'ip_not_allowed')
  }
})

t.test('IPv4 clients of a dual-stack listener', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'loop', allowedIps: ['127.0.0.0/8'] }, { id: 'v6only', allowedIps: ['2001:db8::/32'] }], host: '::' })
  await expectForwarded(t, h, ['GET', '/servers/getVersion', auth(h.keys.loop as string)])
  await expectDenied(t, h, ['GET', '/servers/getVersion', auth(h.keys.v6only as string)], 403, 'ip_not_allowed')
})

t.test('ambiguous targets', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }] })
  const key = h.keys.rw as string
  for (const path of ['/events/../admin/users/index', '/events/%2e%2e/admin/users', '/admin%2fusers/index', '/events/%5c..%5cadmin/users',
    '//admin/users/index', '/admin;x=1/users/index', '/events//view/1', '/index.php/events/view/1', '/events/view/1%00', '/events/view/%ff']) {
    await expectDenied(t, h, ['GET', path, auth(key)], 400, 'ambiguous_path')
  }
})

t.test('method overrides', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }] })
  const key = h.keys.rw as string
  for (const name of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override']) {
    await expectDenied(t, h, ['GET', '/events/view/1', [...auth(key), name, 'DELETE']], 400, 'method_override')
  }
  await expectDenied(t, h, ['GET', '/events/view/1?_method=DELETE', auth(key)], 400, 'method_override')
  await expectDenied(t, h, ['GET', '/events/view/1?%5fmethod=DELETE', auth(key)], 400, 'method_override')
})

t.test('read-only keys', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'ro' }] })
  const headers = [...auth(h.keys.ro as string), 'content-type', 'application/json']
  await expectForwarded(t, h, ['POST', '/Events/RestSearch.json', headers, '{"last":"1d"}'])
  await expectForwarded(t, h, ['POST', '/attributes/restSearch', headers, '{"type":"ip-dst"}'])
  await expectForwarded(t, h, ['GET', '/events/view/9747', headers])
  await expectForwarded(t, h, ['HEAD', '/events/view/5a3c2fcd-8328-42bb-a95e-4f4402de0b81', headers])
  const refused: Array<[string, string, string[]?]> = [
    ['POST', '/events/add'], ['POST', '/events'], ['POST', '/events/add.json'], ['POST', '/EVENTS/ADD/'],
    ['DELETE', '/events/1'], ['PUT', '/events/1'], ['POST', '/events/1'], ['GET', '/servers/pull/1'], ['GET', '/servers/pull/1/full'],
    ['GET', '/feeds/fetchFromFeed/1'], ['GET', '/feeds/enable/1'], ['GET', '/taxonomies/addTag'], ['HEAD', '/servers/serverSettingsEdit/MISP.baseurl'],
    ['GET', '/events/delete/5', ['X-HTTP-Method-Override', 'POST']], ['GET', '/unknownController/index'], ['OPTIONS', '/events/index'],
    ['POST', '/events/view/1']
  ]
  for (const [method, path, extra] of refused) {
    const reason = extra === undefined ? 'read_only' : 'method_override'
    await expectDenied(t, h, [method, path, [...headers, ...(extra ?? [])], method === 'GET' || method === 'HEAD' ? undefined : '{}'], reason === 'read_only' ? 403 : 400, reason)
  }
  await expectDenied(t, h, ['POST', '/events/restSearch', [...auth(h.keys.ro as string), 'content-type', 'application/x-www-form-urlencoded'], '_method=DELETE'], 403, 'read_only')
  await expectDenied(t, h, ['POST', '/events/restSearch', [...auth(h.keys.ro as string), 'content-type', 'Multipart/Form-Data; boundary=x'], '--x--'], 403, 'read_only')
})

t.test('upstream failures', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }], upstreamTimeouts: { connectMs: 1000, headersMs: 300, bodyMs: 1000 } })
  h.standin.route('GET', '/events/view/77', () => { /* never answers */ })
  const slow = await send(h, 'GET', '/events/view/77', auth(h.keys.rw as string))
  t.equal(slow.status, 504, 'silent MISP: 504')
  t.equal(slow.body.reason, 'upstream_timeout', 'silent MISP: reason')
  const counted = (await h.metrics.upstreamErrors.get()).values.find((v) => v.labels.reason === 'upstream_timeout')
  t.equal(counted?.value, 1, 'timeout counted')
  await h.standin.close()
  const down = await send(h, 'GET', '/events/view/1', auth(h.keys.rw as string))
  t.equal(down.status, 502, 'MISP down: 502')
  t.equal(down.body.reason, 'upstream_unavailable', 'MISP down: reason')
})

function headerValues (rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === name) values.push(rawHeaders[i + 1] as string)
  }
  return values
}
