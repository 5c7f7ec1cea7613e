import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { generateMispKey } from '../src/keygen.js'
import { MispStandin } from '../src/standin/server.js'
import { linesHoldingKeys } from './helpers/harness.js'

const CLI = new URL('../dist/cli.js', import.meta.url).pathname
const PROXY = new URL('helpers/proxy-process.mjs', import.meta.url).pathname

interface Cli { status: number | null, stdout: string, stderr: string }

async function cli (args: string[], stdin = ''): Promise<Cli> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH } })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text })
  child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text })
  child.stdin.end(stdin)
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve))
  return { status, stdout, stderr }
}

async function startProxyProcess (t: { teardown: (fn: () => void) => void }, policyFile: string, upstream: URL): Promise<{ child: ChildProcess, port: number, adminPort: number, logs: string[] }> {
  const child = spawn(process.execPath, [PROXY, policyFile, upstream.origin], { stdio: ['ignore', 'pipe', 'pipe'] })
  const logs: string[] = []
  child.stdout?.setEncoding('utf8').on('data', (text: string) => { logs.push(...text.split('\n').filter((line) => line !== '')) })
  t.teardown(() => { child.kill('SIGTERM') })
  const ports = await new Promise<{ port: number, adminPort: number }>((resolve, reject) => {
    let errors = ''
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      errors += text
      const line = /^\{"port":\d+.*$/m.exec(errors)
      if (line !== null) resolve(JSON.parse(line[0]) as { port: number, adminPort: number })
    })
    child.once('exit', (code) => { reject(new Error(`proxy process exited with ${code}: ${errors}`)) })
  })
  return { child, logs, ...ports }
}

async function generation (adminPort: number): Promise<number> {
  const response = await request(`http://127.0.0.1:${adminPort}/readyz`)
  return ((await response.body.json()) as { policy: { generation: number } }).policy.generation
}

async function waitForGeneration (adminPort: number, expected: number): Promise<void> {
  const deadline = Date.now() + 10_000
  while (await generation(adminPort) < expected) {
    if (Date.now() > deadline) throw new Error(`the proxy did not reach policy generation ${expected}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function getVersion (port: number, key: string): Promise<{ status: number, reason: unknown }> {
  const response = await request(`http://127.0.0.1:${port}/servers/getVersion`, { headers: { authorization: key } })
  const body = await response.body.json() as { reason?: unknown }
  return { status: response.statusCode, reason: body.reason }
}

t.test('create, use, rotate with overlap, revoke on a running proxy', async (t) => {
  const upstreamKey = generateMispKey()
  const standin = new MispStandin({ keys: new Map([[upstreamKey, { id: 1, email: 'admin@admin.test' }]]) })
  const upstream = await standin.listen()
  t.teardown(async () => { await standin.close() })
  const dir = t.testdir({ 'policy.yaml': '# Keys of the walkthrough.\nversion: 1\nkeys: []\n', 'upstream.key': upstreamKey + '\n' })
  const policy = join(dir, 'policy.yaml')
  const proxy = await startProxyProcess(t, policy, upstream)

  const created = await cli(['keys', 'create', '--policy', policy, '--id', 'siem', '--owner', 'soc@example.org', '--purpose', 'Walkthrough', '--allow-ip', '127.0.0.1', '--upstream-key', 'file:upstream.key', '--label', 'account=svc-siem'])
  t.equal(created.status, 0, `keys create: ${created.stderr}`)
  const first = created.stdout.trim()
  await waitForGeneration(proxy.adminPort, 2)
  t.same(await getVersion(proxy.port, first), { status: 200, reason: undefined }, 'the new key works')

  const rotated = await cli(['keys', 'rotate', 'siem', '--overlap', '1h', '--policy', policy])
  t.equal(rotated.status, 0, `keys rotate: ${rotated.stderr}`)
  const second = rotated.stdout.trim()
  await waitForGeneration(proxy.adminPort, 3)
  t.equal((await getVersion(proxy.port, second)).status, 200, 'the successor works')
  t.equal((await getVersion(proxy.port, first)).status, 200, 'the old key still works during the overlap')

  const revoked = await cli(['keys', 'revoke', 'siem', '--reason', 'rotated', '--policy', policy])
  t.equal(revoked.status, 0, `keys revoke: ${revoked.stderr}`)
  await waitForGeneration(proxy.adminPort, 4)
  t.same(await getVersion(proxy.port, first), { status: 401, reason: 'revoked_key' }, 'the old key is refused')
  t.equal((await getVersion(proxy.port, second)).status, 200, 'the successor still works')

  const check = await cli(['policy', 'check', policy, '--strict'])
  t.equal(check.status, 0, `policy check is clean: ${check.stdout}`)

  proxy.child.kill('SIGHUP')
  await waitForGeneration(proxy.adminPort, 5)
  t.ok(proxy.logs.some((line) => line.includes('"trigger":"signal"')), 'SIGHUP reloaded the policy')
  t.equal(linesHoldingKeys(proxy.logs, [first, second, upstreamKey]), 0, 'no key in any log line')
})
