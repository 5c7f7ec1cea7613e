import t from 'tap'
import { send, startHarness } from './helpers/harness.js'
import { auth, expectDenied, expectForwarded } from './helpers/expect.js'

const CLAIMS: Array<[string, string]> = [
  ['forwarded', 'for=10.1.1.1'], ['forwarded', 'for="10.1.1.1"'], ['forwarded', 'for=10.1.1.1;proto=https, for=127.0.0.7'],
  ['x-real-ip', '10.1.1.1'], ['true-client-ip', '10.1.1.1'], ['client-ip', '10.1.1.1'], ['x-client-ip', '10.1.1.1'],
  ['x-cluster-client-ip', '10.1.1.1'], ['cf-connecting-ip', '10.1.1.1'], ['fastly-client-ip', '10.1.1.1'],
  ['x-forwarded-for', '10.1.1.1'], ['x-forwarded-for', '127.0.0.7, 10.1.1.1'], ['X-Forwarded-For', '10.1.1.1'],
  ['x-forwarded-host', '10.1.1.1'], ['x-originating-ip', '10.1.1.1'], ['x-remote-addr', '10.1.1.1']
]

/** Client-address headers that MISP could be configured to read; the proxy removes them. */
const STRIPPED = ['forwarded', 'x-real-ip', 'true-client-ip', 'client-ip', 'x-client-ip', 'x-cluster-client-ip',
  'cf-connecting-ip', 'fastly-client-ip', 'x-forwarded-host']

function headerValues (rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toLowerCase() === name) values.push(rawHeaders[i + 1] as string)
  }
  return values
}

t.test('address headers from an untrusted peer', async (t) => {
  const h = await startHarness(t, {
    keys: [{ id: 'ten', allowedIps: ['10.0.0.0/8'] }, { id: 'peer', allowedIps: ['127.0.0.7/32'] }],
    localAddress: '127.0.0.7'
  })
  for (const [name, value] of CLAIMS) {
    await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.ten as string), name, value]], 403, 'ip_not_allowed', `${name}: ${value}: `)
  }
  for (const [name, value] of CLAIMS) {
    await expectForwarded(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.peer as string), name, value]], 200, `${name}: ${value}: `)
    const seen = h.standin.requests.at(-1)?.rawHeaders ?? []
    t.same(headerValues(seen, 'x-forwarded-for'), ['127.0.0.7'], `${name}: MISP sees the peer as X-Forwarded-For`)
    if (STRIPPED.includes(name)) t.same(headerValues(seen, name), [], `${name}: not forwarded to MISP`)
  }
})

t.test('X-Forwarded-For from a trusted proxy', async (t) => {
  const h = await startHarness(t, {
    keys: [{ id: 'ten', allowedIps: ['10.0.0.0/8'] }, { id: 'any', allowedIps: ['0.0.0.0/0', '::/0'] }],
    trustedProxies: ['127.0.0.2/32'],
    localAddress: '127.0.0.2'
  })
  const unparseable = ['127.1', '012.1.2.3', '10.1.1.01', '0x7f.0.0.1', '2130706433', '10.1.1.1:80', '[::1]', '[::1]:80', 'fe80::1%eth0',
    '', ' ', 'unknown', '_hidden', '10.1.1.1,', '10.1.1.1, ', '10.1.1.256', '10.1.1', '1.2.3.4.5', '::ffff:127.1', '2001:db8:::1', '10.1.1.1/32']
  for (const value of unparseable) {
    for (const key of ['ten', 'any']) {
      await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(h.keys[key] as string), 'x-forwarded-for', value]], 403, 'ip_not_allowed', `${key}: "${value}": `)
    }
  }
  await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.any as string), 'x-forwarded-for', '10.1.1.1', 'x-forwarded-for', '127.1']], 403, 'ip_not_allowed', 'second line unparseable: ')
  await expectForwarded(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.ten as string), 'x-forwarded-for', '10.1.1.1']])
  await expectForwarded(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.ten as string), 'x-forwarded-for', '::ffff:10.1.1.1']])
  t.same(headerValues(h.standin.requests.at(-1)?.rawHeaders ?? [], 'x-forwarded-for'), ['10.1.1.1'], 'IPv4-mapped address unwrapped')
  await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.ten as string), 'x-forwarded-for', '10.1.1.1, 203.0.113.9']], 403, 'ip_not_allowed', 'right-most untrusted hop decides: ')
  await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(h.keys.ten as string), 'forwarded', 'for=10.1.1.1']], 403, 'ip_not_allowed', 'Forwarded from a trusted proxy: ')
})

t.test('denials never echo a key', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'any', allowedIps: ['0.0.0.0/0', '::/0'] }], trustedProxies: ['127.0.0.2/32'], localAddress: '127.0.0.2' })
  const key = h.keys.any as string
  for (const value of [key, `x${key}y`, `10.1.1.1, ${key}`]) {
    await expectDenied(t, h, ['GET', '/servers/getVersion', [...auth(key), 'x-forwarded-for', value]], 403, 'ip_not_allowed', 'key as address: ')
    const response = await send(h, 'GET', '/servers/getVersion', [...auth(key), 'x-forwarded-for', value])
    t.notMatch(response.text, key, 'X-Forwarded-For message: no key')
    t.match(response.body.message, '[redacted]', 'X-Forwarded-For message: redaction marked')
  }
  await expectDenied(t, h, ['POST', `/events/view/${key}`, auth(key)], 403, 'read_only', 'key in the path: ')
  const inPath = await send(h, 'POST', `/events/view/${key}`, auth(key))
  t.equal(inPath.body.url, '/events/view/[redacted]', 'url field: key replaced')
  const short = await send(h, 'POST', `/events/view/${key.slice(1)}`, auth(key))
  t.equal(short.body.url, `/events/view/${key.slice(1)}`, 'url field: 39 characters kept')
})
