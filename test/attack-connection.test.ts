import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { sendRaw, startHarness, upstreamCount, type Harness } from './helpers/harness.js'

const FORM = 'application/x-www-form-urlencoded'

/** Opens a raw connection to the proxy and resolves once it is connected. */
async function open (h: Harness): Promise<import('node:net').Socket> {
  const socket = connect(Number(h.proxyUrl.port), '127.0.0.1')
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  return socket
}

/** Waits until `check` is true, for at most `ms` milliseconds; returns its last value. */
async function waitFor (check: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms
  while (!check() && Date.now() < end) await sleep(20)
  return check()
}

/** The proxy's per-request log lines, parsed. */
function requestLines (h: Harness): Array<Record<string, unknown>> {
  return h.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'request')
}

t.test('client abort during a form body', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }] })
  const socket = await open(h)
  socket.write(`POST /events/add HTTP/1.1\r\nHost: x\r\nAuthorization: ${h.keys.rw as string}\r\nContent-Type: ${FORM}\r\nContent-Length: 1000\r\n\r\ninfo=abc`)
  await sleep(100)
  socket.destroy()

  t.ok(await waitFor(() => h.logs.some((line) => line.includes('client closed the connection'))), 'abort logged')
  const line = JSON.parse(h.logs.find((entry) => entry.includes('client closed the connection')) ?? '{}') as Record<string, unknown>
  t.equal(line.level, 30, 'logged at info')
  t.equal(line.err, undefined, 'no error object or stack')
  t.notOk(h.logs.some((entry) => entry.includes('request failed inside the proxy')), 'not logged as an internal error')
  t.equal(upstreamCount(h), 0, 'MISP received nothing')
  t.notOk(requestLines(h).some((entry) => entry.reason === 'internal_error'), 'not counted as an internal error')
})

t.test('CONNECT gets a MISP-shaped 400', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }] })
  for (const target of ['127.0.0.1:443', 'example.invalid:80']) {
    const response = await sendRaw(h, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nAuthorization: ${h.keys.rw as string}\r\n\r\n`)
    t.equal(response.statusLine, 'HTTP/1.1 400 Bad Request', `${target}: status`)
    const body = JSON.parse(response.body) as Record<string, unknown>
    t.equal(body.reason, 'malformed_request', `${target}: reason`)
    t.match(body.message, 'CONNECT', `${target}: message names the method`)
  }
  t.equal(upstreamCount(h), 0, 'MISP received nothing')
  t.ok(h.logs.some((line) => line.includes('malformed request rejected')), 'CONNECT logged')
})
