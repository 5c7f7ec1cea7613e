import t from 'tap'
import { resolveServeSettings } from '../src/commands/serve.js'

const FLAGS = { upstream: 'https://misp.example.org' }

t.test('client timeout from flag and environment', async (t) => {
  t.equal((await resolveServeSettings(FLAGS, {})).clientTimeoutMs, undefined, 'unset: the proxy default')
  t.equal((await resolveServeSettings({ ...FLAGS, 'client-timeout': '5' }, {})).clientTimeoutMs, 5000, 'flag')
  t.equal((await resolveServeSettings(FLAGS, { KEYGATE_CLIENT_TIMEOUT: '7' })).clientTimeoutMs, 7000, 'environment')
  t.equal((await resolveServeSettings({ ...FLAGS, 'client-timeout': '5' }, { KEYGATE_CLIENT_TIMEOUT: '7' })).clientTimeoutMs, 5000, 'flag wins')
})

t.test('invalid client timeouts', async (t) => {
  for (const value of ['0', '-1', '1.5', '60s', ' 10', '3601']) {
    await t.rejects(resolveServeSettings({ ...FLAGS, 'client-timeout': value }, {}),
      { name: 'UsageError', message: `Client timeout "${value}" must be a whole number of seconds from 1 to 3600 (--client-timeout or KEYGATE_CLIENT_TIMEOUT).` }, value)
  }
})

t.test('forward headers from flag and environment', async (t) => {
  t.same((await resolveServeSettings(FLAGS, {})).forwardHeaders, [], 'unset: none')
  t.same((await resolveServeSettings({ ...FLAGS, 'forward-header': ['X-Custom', 'x-two'] }, {})).forwardHeaders, ['x-custom', 'x-two'], 'flag, lower-cased')
  t.same((await resolveServeSettings(FLAGS, { KEYGATE_FORWARD_HEADERS: 'X-Custom, x-two,' })).forwardHeaders, ['x-custom', 'x-two'], 'environment')
})

t.test('forward headers the proxy controls', async (t) => {
  for (const name of ['Authorization', 'x-misp-auth', 'Cookie', 'X-Forwarded-For', 'x-forwarded-anything', 'Forwarded', 'X-HTTP-Method-Override',
    'x-http-method', 'x-method-override', 'x-real-ip', 'host', 'x-request-id', 'connection', 'transfer-encoding', 'proxy-authorization']) {
    await t.rejects(resolveServeSettings({ ...FLAGS, 'forward-header': [name] }, {}),
      { name: 'UsageError', message: `Forward header "${name}" is a header the proxy sets or removes itself, so it cannot be forwarded from clients. Remove it from --forward-header or KEYGATE_FORWARD_HEADERS.` }, name)
  }
  for (const name of ['x custom', 'x:y', '']) {
    await t.rejects(resolveServeSettings({ ...FLAGS, 'forward-header': [name] }, {}), { name: 'UsageError', message: /is not a valid HTTP header name/ }, `"${name}"`)
  }
})
