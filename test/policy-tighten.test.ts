import { readFile, writeFile } from 'node:fs/promises'
import type { pino } from 'pino'
import t from 'tap'
import { runKeys } from '../src/commands/keys.js'
import { createLogger } from '../src/log.js'
import { parsePolicy } from '../src/policy/load.js'
import { tightenPolicy } from '../src/policy/tighten.js'
import { PolicyReloader } from '../src/reload.js'
import { runCommand } from './helpers/command.js'
import { NOW, send, startHarness, type Harness } from './helpers/harness.js'

/** Starts a reloader over the harness's store with an empty environment, like a proxy started before an `env:` key was added. */
function startReloader (t: { teardown: (fn: () => void) => void }, h: Harness): { reloader: PolicyReloader, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger({ write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } } as unknown as pino.DestinationStream, 'info')
  const reloader = new PolicyReloader({ file: h.policyFile, store: h.policies, logger, metrics: h.metrics.reload, env: {}, clock: () => h.clock.now })
  t.teardown(() => { reloader.close() })
  return { reloader, lines }
}

async function status (h: Harness, id: string): Promise<{ status: number, reason: unknown }> {
  const response = await send(h, 'GET', '/servers/getVersion', ['authorization', h.keys[id] as string])
  return { status: response.status, reason: response.body.reason }
}

const MISP_KEY = 'env:MISP_KEY_NEWPARTNER'

t.test('unset env variable: revocation still applies', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'steady' }, { id: 'leaked' }, { id: 'ro', readOnly: true }] })
  const { reloader, lines } = startReloader(t, h)
  const created = await runCommand(runKeys, ['create', '--policy', h.policyFile, '--id', 'newpartner', '--owner', 'p@example.org', '--purpose', 'new partner', '--allow-ip', '127.0.0.1', '--upstream-key', MISP_KEY], { now: NOW })
  t.equal(created.status, 0, 'keys create accepts the env: key')
  t.match(created.stderr, /the proxy needs MISP_KEY_NEWPARTNER set, and a restart, to load this file/, 'keys create warns that the variable is unset')
  const revoked = await runCommand(runKeys, ['revoke', 'leaked', '--reason', 'leaked in CI log', '--policy', h.policyFile], { now: NOW })
  t.match(revoked.stderr, /Warning: MISP_KEY_NEWPARTNER is not set here/, 'keys revoke warns too')

  const result = await reloader.reload('admin')
  t.equal(result.status, 'rejected', 'the file does not load: MISP_KEY_NEWPARTNER is unset')
  t.same(result.status === 'rejected' ? result.tightened : undefined, { revoked: ['leaked'], removed: [] }, 'the revocation is applied')
  t.same(await status(h, 'leaked'), { status: 401, reason: 'revoked_key' }, 'the revoked key is refused')
  t.same(await status(h, 'steady'), { status: 200, reason: undefined }, 'another key keeps working')
  t.equal(h.policies.current.keys.some((key) => key.id === 'newpartner'), false, 'the broken new key is not loaded')
  t.equal(reloader.state.stale, true, 'the state stays stale')
  t.ok(lines.some((line) => line.msg === 'policy file failed to load; revocations and removals applied'), 'logged')
})

t.test('keys commands: no warning when set', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'steady' }] })
  const env = { MISP_KEY_NEWPARTNER: 'set-in-this-shell' }
  const created = await runCommand(runKeys, ['create', '--policy', h.policyFile, '--id', 'newpartner', '--owner', 'p@example.org', '--purpose', 'new partner', '--allow-ip', '127.0.0.1', '--upstream-key', MISP_KEY], { now: NOW, env })
  t.equal(created.status, 0, 'created')
  t.notMatch(created.stderr, /Warning/, 'keys create prints no warning')
  const rotated = await runCommand(runKeys, ['rotate', 'newpartner', '--policy', h.policyFile], { now: NOW })
  t.match(rotated.stderr, /the proxy needs MISP_KEY_NEWPARTNER set, and a restart/, 'keys rotate warns where the variable is unset')
  t.equal(rotated.stderr.match(/Warning/g)?.length, 1, 'once per variable, though two keys read it')
})

t.test('broken file: unlisted key removed', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'steady' }, { id: 'dropped' }] })
  const { reloader } = startReloader(t, h)
  const text = await readFile(h.policyFile, 'utf8')
  const withoutDropped = text.slice(0, text.indexOf('  - id: dropped'))
  await writeFile(h.policyFile, withoutDropped + '  - id: broken\n    owner: x\n')
  const result = await reloader.reload('admin')
  t.same(result.status === 'rejected' ? result.tightened : undefined, { revoked: [], removed: ['dropped'] }, 'the removal is applied')
  t.same(await status(h, 'dropped'), { status: 401, reason: 'unknown_key' }, 'the removed key is refused')
  t.same(await status(h, 'steady'), { status: 200, reason: undefined }, 'the listed key keeps working')
})

t.test('broken file: nothing loosened', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'ro', readOnly: true }, { id: 'gone', fields: ['revoked: { at: 2026-12-01T00:00:00Z, reason: left }'] }] })
  const { reloader } = startReloader(t, h)
  const text = await readFile(h.policyFile, 'utf8')
  // Un-revokes "gone", makes "ro" read-write and widens its addresses, next to an invalid entry.
  const loosened = text.replace(/\n {4}revoked: .*\n/, '\n').replace('read_only: true', 'read_only: false').replace('"127.0.0.0/8"', '"0.0.0.0/0"')
  await writeFile(h.policyFile, loosened + '  - id: broken\n    owner: x\n')
  const generation = h.policies.generation
  const result = await reloader.reload('admin')
  t.equal(result.status, 'rejected', 'rejected')
  t.equal(h.policies.generation, generation, 'the policy in force is not replaced')
  t.same(await status(h, 'gone'), { status: 401, reason: 'revoked_key' }, 'the revoked key stays revoked')
  t.equal((await send(h, 'POST', '/events/add', ['authorization', h.keys.ro as string], '{}')).status, 403, 'the read-only key stays read-only')
})

t.test('tightenPolicy: revocations and removals', async (t) => {
  const hash = (digit: string): string => `sha256:${digit.repeat(64)}`
  const entry = (id: string, digit: string, extra = ''): string => `  - { id: ${id}, owner: o, purpose: p, hash: "${hash(digit)}", allowed_ips: [10.0.0.1]${extra} }\n`
  const current = await parsePolicy(`version: 1\nkeys:\n${entry('a', 'a')}${entry('b', 'b')}${entry('c', 'c')}`, 'policy.yaml', { now: NOW, env: {} })
  const document = {
    version: 1,
    keys: [
      { id: 'a', hash: hash('a'), revoked: { at: '2026-12-01T00:00:00Z', reason: 'leaked' } },
      { id: 'b', hash: hash('d') },
      { id: 'c', hash: hash('c'), revoked: { at: 'yesterday' } }
    ]
  }
  const tightened = tightenPolicy(current, document, NOW)
  t.same(tightened?.revoked, ['a', 'c'], 'revoked by id')
  t.same(tightened?.removed, ['b'], 'a key whose hash changed is removed')
  const byId = new Map(tightened?.policy.keys.map((key) => [key.id, key]))
  t.same(byId.get('a')?.revoked, { at: Date.parse('2026-12-01T00:00:00Z'), reason: 'leaked' }, 'revoked.at is kept when it parses')
  t.same(byId.get('c')?.revoked, { at: NOW, reason: 'revoked in a policy file that failed to load' }, 'else now')
  t.equal(tightened?.policy.byDigest.has(hash('b')), false, 'the removed hash leaves the digest map')
  t.equal(tightened?.policy.byDigest.get(hash('a'))?.revoked?.reason, 'leaked', 'the digest map holds the revoked entry')
  t.equal(tightenPolicy(current, { version: 2, keys: [] }, NOW), undefined, 'another version changes nothing')
  t.equal(tightenPolicy(current, { version: 1 }, NOW), undefined, 'no keys list changes nothing')
  t.equal(tightenPolicy(current, 'text', NOW), undefined, 'a scalar changes nothing')
  const unchanged = ['a', 'b', 'c'].map((id) => ({ id, hash: hash(id), revoked: 'yes' }))
  t.equal(tightenPolicy(current, { version: 1, keys: unchanged }, NOW), undefined, 'a revoked field that is not a mapping revokes nothing')
})
