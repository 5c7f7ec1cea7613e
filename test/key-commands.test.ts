import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { runKeys } from '../src/commands/keys.js'
import { nextRotationId } from '../src/commands/key-rotate.js'
import { UsageError } from '../src/config.js'
import { digestKey } from '../src/digest.js'
import { generateMispKey } from '../src/keygen.js'
import { loadPolicy } from '../src/policy/load.js'
import type { KeyEntry, Policy } from '../src/policy/types.js'
import { PolicyWriteError } from '../src/policy/writer.js'
import { runCommand } from './helpers/command.js'

const NOW = Date.parse('2026-12-04T12:00:00Z')
const DAY = 86_400_000
const EXAMPLE = readFileSync(new URL('../config/policy.example.yaml', import.meta.url), 'utf8')
const CLI = new URL('../dist/cli.js', import.meta.url).pathname
const MISP_KEY = /^[A-Za-z0-9]{40}\n$/

const CREATE = ['create', '--id', 'siem-new', '--owner', 'soc@example.org', '--purpose', 'Hourly pull', '--allow-ip', '192.0.2.10', '--upstream-key', 'env:MISP_KEY_SIEM']

function examplePolicy (t: { testdir: (files: Record<string, string>) => string }, text = EXAMPLE): string {
  return join(t.testdir({ 'policy.yaml': text }), 'policy.yaml')
}

async function keys (file: string, args: string[], stdin?: string, now = NOW): Promise<{ status: number, stdout: string, stderr: string }> {
  return await runCommand(runKeys, [...args, '--policy', file], { now, stdin })
}

async function load (file: string, now = NOW): Promise<Policy> {
  return await loadPolicy(file, { now, env: { MISP_KEY_INGEST: 'x'.repeat(40), MISP_KEY_SIEM: 'y'.repeat(40) } })
}

function keyOf (policy: Policy, id: string): KeyEntry | undefined {
  return policy.keys.find((key) => key.id === id)
}

async function rejection (work: Promise<unknown>): Promise<Error> {
  try {
    await work
  } catch (error) {
    return error as Error
  }
  throw new Error('the command succeeded, an error was expected')
}

/** Asserts that every line of the example is still in the file. */
function assertCommentsKept (t: Tap, text: string): void {
  for (const line of EXAMPLE.split('\n').filter((line) => line.trimStart().startsWith('#'))) t.ok(text.includes(line), `comment kept: ${line}`)
}

type Tap = Pick<typeof t, 'ok'>

t.test('keys create prints the key alone and stores its digest', async (t) => {
  const file = examplePolicy(t)
  const run = await keys(file, [...CREATE, '--label', 'account=svc-siem'])
  t.equal(run.status, 0, 'exit status')
  t.match(run.stdout, MISP_KEY, 'stdout holds one 40-character key and a newline')
  const key = run.stdout.trim()
  t.notMatch(run.stderr, key, 'stderr does not repeat the key')
  t.notMatch(await readFile(file, 'utf8'), key, 'the file does not hold the key')

  const entry = keyOf(await load(file), 'siem-new')
  t.equal(entry?.hash, digestKey(key), 'digest of the printed key')
  t.equal(entry?.readOnly, true, 'read-only by default')
  t.equal(entry?.expires, NOW + 30 * DAY, 'expires after 30 days by default')
  t.equal(entry?.upstreamKey, 'y'.repeat(40), 'swap mode with the given upstream key')
  t.same(entry?.labels, { account: 'svc-siem' }, 'label stored')
  assertCommentsKept(t, await readFile(file, 'utf8'))
})

t.test('keys create options set expiry and rights', async (t) => {
  const file = examplePolicy(t)
  await keys(file, [...CREATE, '--no-expiry', '--read-write', '--profile', 'search', '--allow-ip', '198.51.100.0/24,2001:db8::/48'])
  const entry = keyOf(await load(file), 'siem-new')
  t.equal(entry?.expires, undefined, 'no expiry')
  t.equal(entry?.readOnly, false, 'read-write')
  t.equal(entry?.profile, 'search', 'profile')
  t.same(entry?.allowedIps.entries, ['192.0.2.10/32', '198.51.100.0/24', '2001:db8::/48'], 'repeated and comma-separated addresses')

  await keys(file, ['create', '--id', 'ttl-key', '--owner', 'o', '--purpose', 'p', '--allow-ip', '192.0.2.1', '--upstream-key', 'file:up.key', '--ttl', '36h'])
    .catch((error: unknown) => { t.match((error as Error).message, /up\.key/, 'a missing upstream key file is named') })
  await keys(file, ['create', '--id', 'ttl-key', '--owner', 'o', '--purpose', 'p', '--allow-ip', '192.0.2.1', '--upstream-key', 'env:MISP_KEY_SIEM', '--ttl', '36h'])
  t.equal(keyOf(await load(file), 'ttl-key')?.expires, NOW + 36 * 3_600_000, '--ttl 36h')
  await keys(file, ['create', '--id', 'dated', '--owner', 'o', '--purpose', 'p', '--allow-ip', '192.0.2.1', '--upstream-key', 'env:MISP_KEY_SIEM', '--expires', '2027-01-31T00:00:00+01:00'])
  t.equal(keyOf(await load(file), 'dated')?.expires, Date.parse('2027-01-30T23:00:00Z'), '--expires with an offset')
})

t.test('keys create rejects bad options before writing', async (t) => {
  const file = examplePolicy(t)
  const cases: Array<[string, string[], RegExp]> = [
    ['existing id', [...CREATE.slice(0, 2), 'siem-pull', ...CREATE.slice(3)], /already exists/],
    ['two expiry options', [...CREATE, '--ttl', '7d', '--no-expiry'], /cannot be combined/],
    ['past expiry', [...CREATE, '--expires', '2026-01-01T00:00:00Z'], /not in the future/],
    ['bad ttl', [...CREATE, '--ttl', '30'], /not a duration/],
    ['no address', CREATE.filter((_, index) => index !== 7 && index !== 8), /--allow-ip is missing/],
    ['bad address', [...CREATE, '--allow-ip', '10.1.2.3/8'], /10\.0\.0\.0\/8/],
    ['no upstream key', CREATE.slice(0, -2), /--upstream-key is missing/],
    ['bad id', [...CREATE, '--id', 'Upper Case'], /not a valid key id/],
    ['bad label', [...CREATE, '--label', 'account'], /NAME=VALUE/],
    ['unknown profile', [...CREATE, '--profile', 'no-such-profile'], /no-such-profile/]
  ]
  for (const [name, args, message] of cases) {
    const error = await rejection(keys(file, args))
    t.match(error.message, message, `${name}: ${error.message}`)
  }
  const pasted = generateMispKey()
  const error = await rejection(keys(file, [...CREATE.slice(0, -1), pasted]))
  t.type(error, UsageError, 'a key given as --upstream-key is a usage error')
  t.notMatch(error.message, pasted, 'and is not repeated back')
  t.equal(await readFile(file, 'utf8'), EXAMPLE, 'file unchanged')
})

t.test('keys import reads the key on stdin and prints nothing', async (t) => {
  const file = examplePolicy(t)
  const key = generateMispKey()
  const run = await keys(file, ['import', '--id', 'partner', '--owner', 'o@example.org', '--purpose', 'Partner pull', '--allow-ip', '203.0.113.5'], key + '\n')
  t.equal(run.stdout, '', 'nothing on stdout')
  t.notMatch(run.stderr, key, 'the key is not echoed')
  const entry = keyOf(await load(file), 'partner')
  t.equal(entry?.hash, digestKey(key), 'digest of the key read')
  t.equal(entry?.upstreamKey, undefined, 'pass-through')
  t.equal(entry?.expires, NOW + 30 * DAY, 'default TTL')

  const swap = await rejection(keys(file, ['import', '--id', 'other', '--owner', 'o', '--purpose', 'p', '--allow-ip', '203.0.113.5', '--upstream-key', 'env:X'], generateMispKey()))
  t.match(swap.message, /takes no --upstream-key/, 'swap mode is refused')
  const reused = await rejection(keys(file, ['import', '--id', 'again', '--owner', 'o', '--purpose', 'p', '--allow-ip', '203.0.113.5'], key))
  t.match(reused.message, /same as the hash of key "partner"/, 'the same key twice is refused')
})

t.test('keys rotate makes a successor and shortens the old key', async (t) => {
  const file = examplePolicy(t)
  const created = await keys(file, [...CREATE, '--read-write', '--profile', 'ingest', '--label', 'account=svc-a'])
  const run = await keys(file, ['rotate', 'siem-new', '--overlap', '2h'], undefined, NOW + 1000)
  t.equal(run.status, 0, 'exit status')
  t.match(run.stdout, MISP_KEY, 'the new key alone on stdout')
  t.not(run.stdout, created.stdout, 'a different key')

  const policy = await load(file, NOW + 1000)
  const old = keyOf(policy, 'siem-new')
  const successor = keyOf(policy, 'siem-new-2')
  t.equal(successor?.hash, digestKey(run.stdout.trim()), 'successor has the new digest')
  t.equal(successor?.replaces, 'siem-new', 'replaces recorded')
  t.equal(successor?.owner, old?.owner, 'same owner')
  t.equal(successor?.purpose, old?.purpose, 'same purpose')
  t.same(successor?.allowedIps.entries, old?.allowedIps.entries, 'same addresses')
  t.equal(successor?.readOnly, false, 'same rights')
  t.equal(successor?.profile, 'ingest', 'same profile')
  t.equal(successor?.upstreamKey, old?.upstreamKey, 'same upstream key')
  t.same(successor?.labels, { account: 'svc-a' }, 'same labels')
  t.equal(successor?.expires, NOW + 1000 + 30 * DAY, 'successor gets a fresh 30-day TTL')
  t.equal(old?.expires, Math.floor((NOW + 1000 + 2 * 3_600_000) / 1000) * 1000, 'old key expires after the overlap')
  t.match(run.stderr, /keys revoke siem-new --reason rotated/, 'says how to finish')

  const again = await keys(file, ['rotate', 'siem-new-2', '--new-id', 'siem-third'], undefined, NOW + 2000)
  t.equal(again.status, 0, 'rotating the successor')
  t.equal(keyOf(await load(file, NOW + 2000), 'siem-third')?.replaces, 'siem-new-2', '--new-id used')
  assertCommentsKept(t, await readFile(file, 'utf8'))
})

t.test('keys rotate of a pass-through key reads the new key', async (t) => {
  const file = examplePolicy(t)
  const key = generateMispKey()
  const run = await keys(file, ['rotate', 'siem-pull'], key)
  t.equal(run.stdout, '', 'nothing printed')
  const policy = await load(file)
  t.equal(keyOf(policy, 'siem-pull-2')?.hash, digestKey(key), 'digest of the key read on stdin')
  t.equal(keyOf(policy, 'siem-pull-2')?.upstreamKey, undefined, 'still pass-through')
  t.equal(keyOf(policy, 'siem-pull')?.expires, NOW + DAY, 'default overlap of 24 hours')
  t.same(keyOf(policy, 'siem-pull-2')?.labels, { account: 'svc-siem', ticket: 'SEC-1042' }, 'labels copied')
})

t.test('keys rotate never lengthens the old key', async (t) => {
  const file = examplePolicy(t)
  await keys(file, [...CREATE, '--ttl', '1h'])
  await keys(file, ['rotate', 'siem-new', '--overlap', '48h'])
  t.equal(keyOf(await load(file), 'siem-new')?.expires, NOW + 3_600_000, 'an earlier expiry stays')
  const missing = await rejection(keys(file, ['rotate', 'nope']))
  t.type(missing, PolicyWriteError, 'unknown id')
  t.match(missing.message, /key "nope"/, 'names the key')
})

t.test('keys rotate: second successor refused', async (t) => {
  const file = examplePolicy(t)
  await keys(file, CREATE)
  await keys(file, ['rotate', 'siem-new'])
  const before = await readFile(file, 'utf8')
  const refused = await rejection(keys(file, ['rotate', 'siem-new']))
  t.type(refused, PolicyWriteError, 'a write error: the CLI exits 1')
  t.equal((refused as PolicyWriteError).code, 'has_successor', 'code')
  t.match(refused.message, /already has the successor "siem-new-2"/, 'names the successor')
  t.match(refused.message, /keys revoke siem-new --reason rotated/, 'says what to do instead')
  t.equal(await readFile(file, 'utf8'), before, 'the file is unchanged')

  const forced = await keys(file, ['rotate', 'siem-new', '--force'])
  t.equal(forced.status, 0, '--force allows a second successor')
  t.equal(keyOf(await load(file), 'siem-new-3')?.replaces, 'siem-new', 'the second successor')

  await keys(file, ['revoke', 'siem-new-2', '--reason', 'test'])
  await keys(file, ['revoke', 'siem-new-3', '--reason', 'test'])
  const afterRevoke = await keys(file, ['rotate', 'siem-new'])
  t.equal(afterRevoke.status, 0, 'revoked successors do not count')
})

t.test('keys rotate: concurrent runs add one successor', async (t) => {
  const file = examplePolicy(t)
  await keys(file, CREATE)
  const runs = await Promise.all([0, 1, 2, 3].map(async () => await runCli(['keys', 'rotate', 'siem-new', '--policy', file])))
  t.equal(runs.filter((run) => run?.status === 0).length, 1, 'one run succeeds')
  t.equal(runs.filter((run) => run?.status === 1).length, 3, 'the others exit 1')
  const successors = (await load(file)).keys.filter((key) => key.replaces === 'siem-new')
  t.same(successors.map((key) => key.id), ['siem-new-2'], 'one successor')
})

t.test('keys commands: YAML error wording', async (t) => {
  const flow = examplePolicy(t, 'version: 1\nkeys:\n  - id: a\n    x: [1, 2\n  - id: b\n')
  const flowError = await rejection(keys(flow, CREATE))
  t.match(flowError.message, /invalid YAML at line 5, column 3: Flow sequence/, 'the place comes first')
  t.equal(flowError.message.match(/line 5/g)?.length, 1, 'and is given once')
  t.notMatch(flowError.message, /:\./, 'no ":." in the message')

  const complex = examplePolicy(t, EXAMPLE.replace(/\n {4}purpose: /, '\n    ? [a, b]\n    : c\n    purpose: '))
  const complexLine = (await readFile(complex, 'utf8')).split('\n').indexOf('    ? [a, b]') + 1
  const complexError = await rejection(keys(complex, ['revoke', 'siem-pull', '--reason', 'test']))
  t.match(complexError.message, new RegExp(`invalid YAML at line ${complexLine}: .*complex keys`), `a complex key is placed at its line (${complexLine})`)
})

t.test('nextRotationId counts up and skips taken ids', async (t) => {
  t.equal(nextRotationId('siem', () => false), 'siem-2', 'first successor')
  t.equal(nextRotationId('siem-2', () => false), 'siem-3', 'numbered id counts up')
  t.equal(nextRotationId('siem', (id) => id === 'siem-2'), 'siem-3', 'taken id skipped')
  t.throws(() => nextRotationId('a'.repeat(63), () => false), /--new-id/, 'too long for an id')
})

t.test('keys revoke records time and reason once', async (t) => {
  const file = examplePolicy(t)
  const run = await keys(file, ['revoke', 'siem-pull', '--reason', 'leaked in CI log'])
  t.equal(run.status, 0, 'exit status')
  t.same(keyOf(await load(file), 'siem-pull')?.revoked, { at: NOW, reason: 'leaked in CI log' }, 'revoked with time and reason')
  assertCommentsKept(t, await readFile(file, 'utf8'))

  const again = await rejection(keys(file, ['revoke', 'siem-pull', '--reason', 'again']))
  t.equal((again as PolicyWriteError).code, 'already_revoked', 'second revocation refused')
  t.match((await rejection(keys(file, ['revoke', 'siem-pull']))).message, /--reason is missing/, 'reason required')
  t.match((await rejection(keys(file, ['revoke', '--reason', 'x']))).message, /Expected one key id/, 'id required')
})

t.test('keys list shows every state', async (t) => {
  const file = examplePolicy(t)
  await keys(file, ['revoke', 'misp-ingest', '--reason', 'retired'])
  await keys(file, [...CREATE, '--ttl', '3d'])
  const table = await keys(file, ['list'])
  t.match(table.stdout, /^ID +OWNER +STATE +EXPIRES +READ-ONLY +PROFILE +ADDRESSES\n/, 'header')
  t.match(table.stdout, /\nsiem-pull +soc@example\.org +active +2027-06-30T00:00:00Z +yes +- +203\.0\.113\.10\/32,/, 'active row')
  t.match(table.stdout, /\nmisp-ingest +\S+ +revoked /, 'revoked row')
  t.match(table.stdout, /\nold-partner +\S+ +expired /, 'expired row')
  t.match(table.stdout, /\nsiem-new +\S+ +expiring /, 'expiring row')

  const json = JSON.parse((await keys(file, ['list', '--format', 'json'])).stdout) as Array<Record<string, unknown>>
  t.equal(json.find((key) => key.id === 'misp-ingest')?.state, 'revoked', 'revoked')
  t.equal(json.find((key) => key.id === 'siem-new')?.state, 'expiring', 'expiring')
  t.same(json.find((key) => key.id === 'siem-pull'), {
    id: 'siem-pull',
    owner: 'soc@example.org',
    state: 'active',
    expires: '2027-06-30T00:00:00Z',
    not_before: null,
    read_only: true,
    profile: null,
    allowed_ips: ['203.0.113.10/32', '198.51.100.0/24', '2001:db8::/48', '127.0.0.1/32', '::1/128'],
    mode: 'pass-through',
    replaces: null,
    revoked: null
  }, 'one key as JSON')

  const early = JSON.parse((await keys(examplePolicy(t), ['list', '--format', 'json'], undefined, Date.parse('2026-11-01T00:00:00Z'))).stdout) as Array<Record<string, unknown>>
  t.equal(early.find((key) => key.id === 'misp-ingest')?.state, 'not yet valid', 'before not_before')
  t.equal(early.find((key) => key.id === 'old-partner')?.state, 'expired', 'expired')
  t.match((await rejection(keys(file, ['list', '--format', 'xml']))).message, /--format "xml"/, 'unknown format')
})

t.test('keys without a subcommand lists them', async (t) => {
  const error = await rejection(runCommand(runKeys, [], { now: NOW }))
  t.match(error.message, /keys create, keys import, keys rotate, keys revoke, keys list/, 'names the subcommands')
})

/** Runs the built CLI in a child process and returns its exit status and output. */
async function runCli (args: string[]): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text })
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text })
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve))
  return { status, stdout, stderr }
}

t.test('two keys create processes at once both land', async (t) => {
  const file = examplePolicy(t)
  const create = (id: string): string[] => ['keys', 'create', '--policy', file, '--id', id, '--owner', 'o@example.org', '--purpose', 'p', '--allow-ip', '192.0.2.1', '--upstream-key', 'env:MISP_KEY_SIEM']
  for (let round = 0; round < 3; round++) {
    const [a, b] = await Promise.all([runCli(create(`first-${round}`)), runCli(create(`second-${round}`))])
    t.equal(a?.status, 0, `first process exit status: ${a?.stderr ?? ''}`)
    t.equal(b?.status, 0, `second process exit status: ${b?.stderr ?? ''}`)
    const policy = await load(file)
    t.equal(keyOf(policy, `first-${round}`)?.hash, digestKey(a?.stdout.trim() ?? ''), `round ${round}: first key present`)
    t.equal(keyOf(policy, `second-${round}`)?.hash, digestKey(b?.stdout.trim() ?? ''), `round ${round}: second key present`)
  }
  assertCommentsKept(t, await readFile(file, 'utf8'))
})

t.test('the CLI exits 1 on a write error and 2 on a usage error', async (t) => {
  const file = examplePolicy(t)
  const exists = await runCli(['keys', 'revoke', 'nope', '--reason', 'x', '--policy', file])
  t.equal(exists.status, 1, 'unknown key: exit 1')
  t.match(exists.stderr, /key "nope": no key with this id/, 'names the key')
  t.notMatch(exists.stderr, /\n\s+at /, 'no stack trace')
  const usage = await runCli(['keys', 'revoke', 'siem-pull', '--policy', file])
  t.equal(usage.status, 2, 'missing --reason: exit 2')
})
