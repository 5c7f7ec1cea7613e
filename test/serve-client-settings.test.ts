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
