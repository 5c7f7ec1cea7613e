import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import t from 'tap'
import { EVENT, send, sendRaw, startHarness, type Harness } from './helpers/harness.js'

function lastHeaders (h: Harness): Map<string, string[]> {
  const raw = h.standin.requests.at(-1)?.rawHeaders ?? []
  const headers = new Map<string, string[]>()
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase()
    headers.set(name, [...(headers.get(name) ?? []), raw[i + 1] as string])
  }
  return headers
}

t.test('pass-through forwards the client key and strips the rest', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }] })
  const key = h.keys.rw as string
  const response = await send(h, 'GET', '/events/view/9747', [
    'X-MISP-AUTH', key, 'cookie', 'CAKEPHP=session', 'forwarded', 'for=10.9.9.9', 'x-real-ip', '10.9.9.9',
    'x-forwarded-host', 'evil.test', 'x-forwarded-proto', 'http', 'true-client-ip', '10.9.9.9', 'client-ip', '10.9.9.9',
    'x-request-id', 'client-chosen', 'accept', 'application/json'
  ])
  t.equal(response.status, 200, 'forwarded')
  const seen = lastHeaders(h)
  t.same(seen.get('authorization'), [key], 'MISP gets the client key in Authorization')
  for (const name of ['x-misp-auth', 'cookie', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-proto', 'true-client-ip', 'client-ip']) {
    t.notOk(seen.has(name), `${name} stripped`)
  }
  t.same(seen.get('x-forwarded-for'), ['127.0.0.1'], 'X-Forwarded-For is the decided client')
  t.same(seen.get('accept'), ['application/json'], 'other headers pass')
  t.equal(seen.get('x-request-id')?.[0], response.headers['x-request-id'], 'MISP and the client see the same request id')
  t.not(response.headers['x-request-id'], 'client-chosen', 'the client cannot choose the request id')
  t.same(JSON.parse(response.text), EVENT, 'the event body arrives unchanged')
  const line = h.logs.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.route === 'events/view')
  t.equal(line?.bytes_out, Buffer.byteLength(response.text), 'the access line counts the body bytes sent')
  t.equal(line?.key_id, 'rw', 'the access line names the key id')
  t.equal(line?.status, 200, 'the access line has the status')
})

/** Headers that MISP can be configured to read as the client address or the user. */
const SPOOFING_HEADERS = ['x-originating-ip', 'x-remote-ip', 'x-remote-addr', 'x-proxyuser-ip', 'x-remote-user', 'remote-user',
  'via', 'x-client-ip', 'x-real-ip', 'x-forwarded-host', 'x-misp-user', 'x-custom']

t.test('only listed request headers reach MISP', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }] })
  const allowed: Array<[string, string]> = [['accept', 'application/json'], ['accept-encoding', 'identity'], ['accept-language', 'en'],
    ['content-type', 'application/json'], ['user-agent', 'PyMISP 2.5 - Python 3.12'], ['if-none-match', '"e1"'], ['if-match', '"e1"'],
    ['if-modified-since', 'Thu, 03 Dec 2026 12:00:00 GMT'], ['if-unmodified-since', 'Thu, 03 Dec 2026 12:00:00 GMT'],
    ['cache-control', 'no-cache'], ['pragma', 'no-cache'], ['range', 'bytes=0-10'], ['x-requested-with', 'XMLHttpRequest']]
  const spoofed = SPOOFING_HEADERS.flatMap((name) => [name, '10.9.9.9'])
  const response = await send(h, 'GET', '/events/view/9747', ['authorization', h.keys.rw as string, ...allowed.flat(), ...spoofed])
  t.equal(response.status, 200, 'forwarded')
  const seen = lastHeaders(h)
  for (const [name, value] of allowed) t.same(seen.get(name), [value], `${name} forwarded`)
  for (const name of SPOOFING_HEADERS) t.notOk(seen.has(name), `${name} not forwarded`)
  t.same([...seen.keys()].sort(), [...allowed.map(([name]) => name), 'authorization', 'connection', 'host', 'x-forwarded-for', 'x-request-id'].sort(), 'nothing else, besides what the proxy sets')
})

t.test('--forward-header adds a header', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }], forwardHeaders: ['x-custom'] })
  const response = await send(h, 'POST', '/events/add', ['authorization', h.keys.rw as string, 'content-type', 'application/json', 'X-Custom', 'one', 'x-remote-user', 'admin'], '{}')
  t.equal(response.status, 200, 'forwarded')
  t.same(lastHeaders(h).get('x-custom'), ['one'], 'added header forwarded')
  t.notOk(lastHeaders(h).has('x-remote-user'), 'other headers still dropped')
  t.same(lastHeaders(h).get('content-length'), ['2'], 'Content-Length forwarded')
})

t.test('headers named in Connection are dropped', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }] })
  const response = await sendRaw(h, `GET /events/view/9747 HTTP/1.1\r\nHost: x\r\nAuthorization: ${h.keys.rw}\r\n` +
    'Connection: close, Accept-Language\r\nAccept-Language: en\r\nAccept: application/json\r\n\r\n')
  t.match(response.statusLine, / 200 /, 'forwarded')
  t.notOk(lastHeaders(h).has('accept-language'), 'header named in Connection dropped')
  t.ok(lastHeaders(h).has('accept'), 'other header kept')
})

t.test('swap mode sends the upstream key and never returns it', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'swap', swap: true, readOnly: true, fields: ['expires: 2027-01-31T00:00:00Z'] }], standin: { exposeAuthkeys: true } })
  const key = h.keys.swap as string
  h.standin.route('GET', '/servers/getversion', (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'x-auth-key-expiration': '2030-01-01T00:00:00+00:00', 'set-cookie': 'CAKEPHP=abc' })
    response.end('{"version":"2.5.1"}')
  })
  const version = await send(h, 'GET', '/servers/getVersion', ['authorization', key])
  t.same(lastHeaders(h).get('authorization'), [h.upstreamKey], 'MISP gets the upstream key')
  t.equal(version.headers['x-auth-key-expiration'], '2027-01-31T00:00:00.000Z', 'expiry header describes the client key')
  t.notOk(version.headers['set-cookie'], 'no session cookie reaches the client')

  for (const path of ['/users/view/me', '/users/view/me.json', '/Users/View/me']) {
    const user = await send(h, 'GET', path, ['authorization', key, 'accept-encoding', 'gzip'])
    t.equal(user.status, 200, `${path}: allowed`)
    t.notMatch(user.text, h.upstreamKey, `${path}: upstream key removed`)
    t.equal((user.body.User as Record<string, unknown>)?.authkey, undefined, `${path}: authkey field removed`)
    t.equal((user.body.User as Record<string, unknown>)?.email, 'admin@admin.test', `${path}: the rest of the user stays`)
    t.same(lastHeaders(h).get('accept-encoding'), ['identity'], `${path}: asked MISP for an uncompressed body`)
  }
})

t.test('swap filter on compressed users responses', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'swap', swap: true }] })
  const key = h.keys.swap as string
  const user = JSON.stringify({ User: { id: '1', email: 'admin@admin.test', authkey: h.upstreamKey }, note: `key ${h.upstreamKey}` })
  const encoders: Record<string, (text: string) => Buffer> = { gzip: gzipSync, 'x-gzip': gzipSync, deflate: deflateSync, br: brotliCompressSync, GZIP: gzipSync, identity: Buffer.from }
  let encoding = 'gzip'
  let body: Buffer = Buffer.alloc(0)
  h.standin.route('GET', '/users/view/me', (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding, 'content-length': body.length })
    response.end(body)
  })
  for (const [name, encode] of Object.entries(encoders)) {
    encoding = name
    body = encode(user)
    const response = await send(h, 'GET', '/users/view/me', ['authorization', key])
    t.equal(response.status, 200, `${name}: status`)
    t.equal(response.headers['content-encoding'], undefined, `${name}: sent uncompressed`)
    t.notMatch(response.text, h.upstreamKey, `${name}: upstream key removed`)
    t.equal((response.body.User as Record<string, unknown> | undefined)?.email, 'admin@admin.test', `${name}: user kept`)
    t.equal((response.body.User as Record<string, unknown> | undefined)?.authkey, undefined, `${name}: authkey removed`)
  }
  const unreadable: Array<[string, Buffer]> = [['compress', Buffer.from(user)], ['gzip, br', brotliCompressSync(gzipSync(user))],
    ['zstd', Buffer.from(user)], ['gzip', Buffer.from(user)], ['gzip', gzipSync(Buffer.alloc(17 * 1024 * 1024, 0x20))]]
  for (const [name, bytes] of unreadable) {
    encoding = name
    body = bytes
    const response = await send(h, 'GET', '/users/view/me', ['authorization', key])
    t.equal(response.status, 502, `${name} (${bytes.length} bytes): status`)
    t.equal(response.body.reason, 'upstream_unavailable', `${name}: reason`)
    t.notMatch(response.text, h.upstreamKey, `${name}: upstream key not sent`)
  }
})

t.test('users/view of another user needs allow_sensitive', async (t) => {
  const h = await startHarness(t, {
    keys: [
      { id: 'reader', swap: true },
      { id: 'admin', swap: true, readOnly: false, fields: ['allow_sensitive: [users]'] }
    ],
    standin: { exposeAuthkeys: true }
  })
  const before = h.standin.requests.length
  const denied = await send(h, 'GET', '/users/view/1', ['authorization', h.keys.reader as string])
  t.equal(denied.status, 403, 'read-only key: denied')
  t.equal(h.standin.requests.length, before, 'MISP received nothing')
  const allowed = await send(h, 'GET', '/users/view/1', ['authorization', h.keys.admin as string])
  t.equal(allowed.status, 200, 'key allowed users: forwarded')
  t.notMatch(allowed.text, h.upstreamKey, 'upstream key removed')
  t.equal((allowed.body.User as Record<string, unknown>)?.authkey, undefined, 'authkey field removed')
})

t.test('targets and queries are forwarded byte for byte', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }] })
  const key = h.keys.rw as string
  for (const path of ['/events/index/page:2/limit:10', '/events/view/9747?a=1&a=2&b=%20+x', '/events/index/searchall:%22x%22', "/events/view/9747?q='x'&r=%2F"]) {
    const response = await send(h, 'GET', path, ['authorization', key])
    t.equal(h.standin.requests.at(-1)?.url, path, `${path}: unchanged`)
    t.ok(response.status === 200 || response.status === 404, `${path}: answered by MISP`)
  }
})

t.test('PyMISP start-up and search with a read-only key', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'pymisp' }] })
  const headers = ['Authorization', h.keys.pymisp as string, 'Accept', 'application/json', 'content-type', 'application/json',
    'User-Agent', 'PyMISP 2.5.34.1 - Python 3.12', 'Accept-Encoding', 'gzip, deflate']
  const version = await send(h, 'GET', '/servers/getVersion', headers)
  t.equal(version.body.version, '2.5.1', 'getVersion')
  const me = await send(h, 'GET', '/users/view/me', headers)
  t.equal((me.body.User as Record<string, unknown>).email, 'user0@admin.test', 'users/view/me')
  const types = await send(h, 'GET', '/attributes/describeTypes.json', headers)
  t.ok(Array.isArray((types.body.result as { types: unknown }).types), 'describeTypes')
  const search = await send(h, 'POST', '/events/restSearch', headers, JSON.stringify({ returnFormat: 'json', value: '8.8.8.8' }))
  t.equal(search.status, 200, 'restSearch')
  t.same((search.body.response as unknown[])[0], EVENT, 'restSearch returns the event')
  t.equal(h.standin.requests.length, 4, 'MISP received the four calls')
})
