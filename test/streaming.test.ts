import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import t from 'tap'
import { request } from 'undici'
import { digestKey } from '../src/digest.js'
import { generateMispKey } from '../src/keygen.js'
import { MispStandin } from '../src/standin/server.js'
import { linesHoldingKeys } from './helpers/harness.js'

const SIZE = 200 * 1024 * 1024
const CHUNK = Buffer.alloc(64 * 1024, 'a')
const MAX_RSS_GROWTH = 50 * 1024 * 1024
/** Sent each way first, so the baseline includes the buffers any transfer needs. */
const WARMUP_SIZE = 20 * 1024 * 1024

/** Reads a process's resident set size from /proc, in bytes. */
function rss (pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024
}

function generated (size: number): Readable {
  let left = size
  return new Readable({
    read () {
      if (left <= 0) { this.push(null); return }
      const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left)
      left -= chunk.length
      this.push(chunk)
    }
  })
}

async function startProxyProcess (t: { teardown: (fn: () => void) => void }, policyFile: string, upstream: URL): Promise<{ child: ChildProcess, port: number, logs: string[] }> {
  const child = spawn(process.execPath, [new URL('helpers/proxy-process.mjs', import.meta.url).pathname, policyFile, upstream.origin], { stdio: ['ignore', 'pipe', 'pipe'] })
  const logs: string[] = []
  child.stdout?.setEncoding('utf8').on('data', (text: string) => { logs.push(...text.split('\n').filter((line) => line !== '')) })
  t.teardown(() => { child.kill('SIGTERM') })
  const port = await new Promise<number>((resolve, reject) => {
    let errors = ''
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      errors += text
      const line = /^\{"port":\d+.*$/m.exec(errors)
      if (line !== null) resolve((JSON.parse(line[0]) as { port: number }).port)
    })
    child.once('exit', (code) => { reject(new Error(`proxy process exited with ${code}: ${errors}`)) })
  })
  return { child, port, logs }
}

t.test('200 MB each way with bounded proxy memory', async (t) => {
  const key = generateMispKey()
  const standin = new MispStandin({ keys: new Map([[key, { id: 1, email: 'stream@admin.test' }]]) })
  standin.route('GET', '/events/export', (request, response) => {
    response.writeHead(200, { 'content-type': 'text/csv' })
    generated(request.url?.endsWith('?warmup') === true ? WARMUP_SIZE : SIZE).pipe(response)
  })
  const upstream = await standin.listen()
  t.teardown(() => standin.close())

  const dir = t.testdir()
  const policyFile = join(dir, 'policy.yaml')
  await writeFile(policyFile, `version: 1\nkeys:\n  - id: bulk\n    owner: t@example.org\n    purpose: bulk transfer test\n    hash: ${digestKey(key)}\n    allowed_ips: [127.0.0.1]\n    read_only: false\n`)
  const { child, port, logs } = await startProxyProcess(t, policyFile, upstream)
  const pid = child.pid as number
  const warmup = await request(`http://127.0.0.1:${port}/events/export?warmup`, { headers: { authorization: key } })
  await warmup.body.dump({ limit: Infinity })
  const warmupUpload = await request(`http://127.0.0.1:${port}/events/upload`, {
    method: 'POST', headers: { authorization: key, 'content-type': 'application/octet-stream' }, body: generated(WARMUP_SIZE)
  })
  await warmupUpload.body.dump()
  const baseline = rss(pid)
  let peak = baseline
  const sampler = setInterval(() => { peak = Math.max(peak, rss(pid)) }, 20)
  t.teardown(() => { clearInterval(sampler) })

  const download = await request(`http://127.0.0.1:${port}/events/export`, { headers: { authorization: key } })
  let received = 0
  for await (const chunk of download.body) received += (chunk as Buffer).length
  t.equal(download.statusCode, 200, 'download status')
  t.equal(received, SIZE, 'download arrives whole')

  const upload = await request(`http://127.0.0.1:${port}/events/upload`, {
    method: 'POST', headers: { authorization: key, 'content-type': 'application/octet-stream', 'content-length': String(SIZE) }, body: generated(SIZE)
  })
  const answer = await upload.body.json() as { received_bytes: number }
  t.equal(upload.statusCode, 200, 'upload status')
  t.equal(answer.received_bytes, SIZE, 'MISP received the whole upload')

  clearInterval(sampler)
  peak = Math.max(peak, rss(pid))
  t.comment(`proxy RSS: baseline ${(baseline / 2 ** 20).toFixed(1)} MiB, peak ${(peak / 2 ** 20).toFixed(1)} MiB`)
  t.ok(peak - baseline < MAX_RSS_GROWTH, `proxy RSS grew by ${((peak - baseline) / 2 ** 20).toFixed(1)} MiB, under 50 MiB`)
  t.equal(linesHoldingKeys(logs, [key]), 0, 'no key in the proxy process log')
  t.ok(logs.some((line) => line.includes('"route":"events/export"')), 'the proxy logged the download')
})
