import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { digestKey } from '../src/digest.js'
import { generateMispKey } from '../src/keygen.js'
import { MispStandin } from '../src/standin/server.js'
import { linesHoldingKeys } from './helpers/harness.js'

const CLI = new URL('../dist/cli.js', import.meta.url).pathname

function run (args: string[], options: { input?: string, env?: NodeJS.ProcessEnv } = {}): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { input: options.input ?? '', env: { PATH: process.env.PATH, ...options.env }, encoding: 'utf8', timeout: 30_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

t.test('serve without a MISP URL exits 2 and says how to give one', async (t) => {
  const result = run(['serve'])
  t.equal(result.status, 2, 'exit status')
  t.match(result.stderr, /--upstream/, 'names the flag')
  t.match(result.stderr, /MISP_URL/, 'names the variable')
})

t.test('serve without a policy file exits 2 and says how to give one', async (t) => {
  const result = run(['serve', '--upstream', 'http://127.0.0.1:9', '--policy', join(t.testdir(), 'missing.yaml')])
  t.equal(result.status, 2, 'exit status')
  t.match(result.stderr, /missing\.yaml/, 'names the file')
  t.match(result.stderr, /KEYGATE_POLICY|--policy/, 'says how to provide one')
})

t.test('serve with an invalid policy exits 2 naming the field', async (t) => {
  const dir = t.testdir({ 'policy.yaml': `version: 1\nkeys:\n  - id: siem\n    owner: o\n    purpose: p\n    hash: ${digestKey(generateMispKey())}\n    allowed_ips: [10.1.2.3/8]\n` })
  const result = run(['serve', '--upstream', 'http://127.0.0.1:9', '--policy', join(dir, 'policy.yaml')])
  t.equal(result.status, 2, 'exit status')
  t.match(result.stderr, /siem/, 'names the key')
  t.match(result.stderr, /allowed_ips/, 'names the field')
  t.match(result.stderr, /10\.0\.0\.0\/8/, 'gives the canonical form')
})

t.test('serve rejects an upstream URL with a path', async (t) => {
  const result = run(['serve', '--upstream', 'https://misp.example.org/misp/'])
  t.equal(result.status, 2, 'exit status')
  t.match(result.stderr, /origin/, 'explains the expected form')
})

t.test('serve rejects a malformed timeout or listen address', async (t) => {
  const timeout = run(['serve', '--upstream', 'http://127.0.0.1:9', '--upstream-timeout', '1.5'])
  t.equal(timeout.status, 2, 'timeout: exit status')
  t.match(timeout.stderr, /whole number of seconds/, 'timeout: says the rule')
  const listen = run(['serve', '--upstream', 'http://127.0.0.1:9', '--listen', '8080'])
  t.equal(listen.status, 2, 'listen: exit status')
  t.match(listen.stderr, /HOST:PORT/, 'listen: says the form')
})

t.test('hash prints the digest and never the key', async (t) => {
  const key = generateMispKey()
  const result = run(['hash'], { input: key + '\n' })
  t.equal(result.status, 0, 'exit status')
  t.equal(result.stdout, digestKey(key) + '\n', 'digest on stdout')
  t.notMatch(result.stdout + result.stderr, key, 'the key is not echoed')
  const bad = run(['hash'], { input: `${key} \n` })
  t.equal(bad.status, 2, 'a stray space is an error')
  t.notMatch(bad.stderr, key, 'the error does not echo the key')
})

t.test('demo serves the requests it prints', async (t) => {
  const child = spawn(process.execPath, [CLI, 'demo', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text })
  const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
  t.teardown(() => { child.kill('SIGKILL') })
  while (!stdout.includes('Press Ctrl-C')) await new Promise((resolve) => setTimeout(resolve, 50))

  const keys = Object.fromEntries([...stdout.matchAll(/^ {2}(SIEM|INGEST|PARTNER)=([A-Za-z0-9]{40})/gm)].map((m) => [m[1], m[2]]))
  const url = /listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1]
  t.ok(url !== undefined && keys.SIEM !== undefined && keys.INGEST !== undefined && keys.PARTNER !== undefined, 'prints the URL and three keys')
  const json = { 'content-type': 'application/json' }
  const search = await request(`${url}/events/restSearch`, { method: 'POST', headers: { authorization: keys.SIEM, ...json }, body: '{"last":"7d"}' })
  t.equal(search.statusCode, 200, 'read-only search allowed')
  await search.body.dump()
  const add = await request(`${url}/events/add`, { method: 'POST', headers: { authorization: keys.SIEM, ...json }, body: '{"Event":{"info":"x"}}' })
  t.equal(add.statusCode, 403, 'read-only add refused')
  t.equal((await add.body.json() as { reason: string }).reason, 'read_only', 'read_only reason')
  const ingest = await request(`${url}/events/add`, { method: 'POST', headers: { authorization: keys.INGEST, ...json }, body: '{"Event":{"info":"x"}}' })
  t.equal(ingest.statusCode, 200, 'read-write add allowed')
  await ingest.body.dump()
  const partner = await request(`${url}/servers/getVersion`, { headers: { authorization: keys.PARTNER } })
  t.equal(partner.statusCode, 403, 'partner key refused from loopback')
  t.equal((await partner.body.json() as { reason: string }).reason, 'ip_not_allowed', 'ip_not_allowed reason')

  child.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM stops the demo cleanly')
  const logLines = stdout.split('\n').filter((line) => line.startsWith('{'))
  t.ok(logLines.length >= 4, 'one access line per request')
  t.equal(linesHoldingKeys(logLines, Object.values(keys) as string[]), 0, 'no key in any log line')
})

t.test('start uses the example policy until config/policy.yaml exists', async (t) => {
  const dir = t.testdir({ config: { 'policy.example.yaml': readFileSync(new URL('../config/policy.example.yaml', import.meta.url), 'utf8') } })
  const child = spawn(process.execPath, [CLI, 'start', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--usage-db', join(dir, 'usage.sqlite')], {
    cwd: dir,
    env: { PATH: process.env.PATH, MISP_URL: 'http://127.0.0.1:9', MISP_KEY_INGEST: 'ExampleUpstreamKeyForIngestDoNotUse00004' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.teardown(() => { child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text })
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text })
  const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
  while (!stdout.includes('misp-keygate started') && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(stderr, /config\/policy\.yaml does not exist yet/, 'says why it uses the example')
  t.match(stdout, /"policy":"config\/policy\.example\.yaml"/, 'serves the example policy')
  child.kill('SIGTERM')
  t.equal(await exited, 0, 'stops cleanly')
})

t.test('SIGTERM lets a request in flight finish', async (t) => {
  const key = generateMispKey()
  const standin = new MispStandin({ keys: new Map([[key, { id: 1, email: 'slow@admin.test' }]]) })
  standin.route('GET', '/events/view/1', (_request, response) => {
    setTimeout(() => { response.writeHead(200, { 'content-type': 'application/json' }); response.end('{"Event":{"id":"1"}}') }, 700)
  })
  const upstream = await standin.listen()
  t.teardown(() => standin.close())
  const dir = t.testdir()
  await writeFile(join(dir, 'policy.yaml'), `version: 1\nkeys:\n  - id: slow\n    owner: o@example.org\n    purpose: drain test\n    hash: ${digestKey(key)}\n    allowed_ips: [127.0.0.1]\n`)
  const child = spawn(process.execPath, [CLI, 'serve', '--policy', join(dir, 'policy.yaml'), '--upstream', upstream.origin, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text })
  const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
  while (!stdout.includes('misp-keygate started')) await new Promise((resolve) => setTimeout(resolve, 50))
  const started = JSON.parse(stdout.split('\n').find((line) => line.includes('misp-keygate started')) as string) as { listen: Array<{ port: number }> }
  const port = started.listen[0]?.port

  const inFlight = request(`http://127.0.0.1:${port}/events/view/1`, { headers: { authorization: key } })
  await new Promise((resolve) => setTimeout(resolve, 200))
  child.kill('SIGTERM')
  const response = await inFlight
  t.equal(response.statusCode, 200, 'the request in flight finishes')
  t.match(await response.body.text(), /"id":"1"/, 'with its body')
  t.equal(await exited, 0, 'then the process exits 0')
  t.match(stdout, /draining in-flight requests/, 'the drain is logged')
})
