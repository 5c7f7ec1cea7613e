import t from 'tap'
import { resolveServeSettings } from '../src/commands/serve.js'

const FLAGS = { upstream: 'https://misp.example.org' }

t.test('form body limit from flag and environment', async (t) => {
  t.equal((await resolveServeSettings(FLAGS, {})).formBodyLimit, undefined, 'unset: the proxy default')
  t.equal((await resolveServeSettings({ ...FLAGS, 'form-body-limit': '4096' }, {})).formBodyLimit, 4096, 'flag')
  t.equal((await resolveServeSettings(FLAGS, { KEYGATE_FORM_BODY_LIMIT: '2048' })).formBodyLimit, 2048, 'environment')
  t.equal((await resolveServeSettings({ ...FLAGS, 'form-body-limit': '4096' }, { KEYGATE_FORM_BODY_LIMIT: '2048' })).formBodyLimit, 4096, 'flag wins')
})

t.test('invalid form body limits', async (t) => {
  for (const value of ['0', '-1', '1.5', '1MiB', ' 10', '67108865']) {
    await t.rejects(resolveServeSettings({ ...FLAGS, 'form-body-limit': value }, {}),
      { name: 'UsageError', message: `Form body limit "${value}" must be a whole number of bytes from 1 to 67108864 (--form-body-limit or KEYGATE_FORM_BODY_LIMIT).` }, value)
  }
})
