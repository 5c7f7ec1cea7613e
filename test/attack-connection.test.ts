import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { send, sendRaw, startHarness, upstreamCount, type Harness } from './helpers/harness.js'

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

t.test('client abort during a streamed JSON body', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }] })
  const socket = await open(h)
  socket.write(`POST /events/add HTTP/1.1\r\nHost: x\r\nAuthorization: ${h.keys.rw as string}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"Ev`)
  await sleep(200)
  socket.destroy()

  t.ok(await waitFor(() => h.logs.some((line) => line.includes('client closed the connection'))), 'abort logged')
  t.notOk(h.logs.some((entry) => entry.includes('forwarding to MISP failed')), 'not logged as a MISP failure')
  const counted = (await h.metrics.upstreamErrors.get()).values.reduce((sum, value) => sum + value.value, 0)
  t.equal(counted, 0, 'not counted as an upstream error')
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

/** Collects what the proxy sends on `socket` and resolves when the proxy closes it. */
async function closed (socket: import('node:net').Socket): Promise<{ text: string, afterMs: number }> {
  const start = Date.now()
  let text = ''
  socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1') })
  await new Promise((resolve) => socket.once('close', resolve))
  return { text, afterMs: Date.now() - start }
}

/** Writes one byte of `text` every `intervalMs` until it is sent or the socket closes. */
async function drip (socket: import('node:net').Socket, text: string, intervalMs: number): Promise<void> {
  for (const char of text) {
    if (socket.destroyed) return
    socket.write(char)
    await sleep(intervalMs)
  }
}

const head = (key: string, type: string, length: number, path = '/events/add'): string =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${key}\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`

t.test('idle request body closes the connection', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }], clientTimeoutMs: 400 })
  const key = h.keys.rw as string
  const cases: Array<[string, string, string]> = [
    ['form body, no byte', FORM, ''],
    ['form body, one byte a second', FORM, 'info=abcdef'],
    ['JSON body streamed to MISP', 'application/json', '{"returnFormat":"json"}'],
    ['multipart body', 'multipart/form-data; boundary=b', '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1']
  ]
  for (const [name, type, body] of cases) {
    const socket = await open(h)
    const done = closed(socket)
    socket.write(head(key, type, 100_000, type === 'application/json' ? '/events/restSearch' : '/events/add'))
    void drip(socket, body, 1000)
    const { text, afterMs } = await done
    t.ok(afterMs < 3000, `${name}: closed after ${afterMs} ms`)
    t.notMatch(text, /^HTTP\/1\.1 200/, `${name}: no success response`)
  }
  t.equal(h.standin.requests.length, 0, 'MISP received no complete request')
  t.ok(h.logs.some((line) => line.includes('request body idle for too long')), 'closing logged')
})

t.test('slow but steady body and slow MISP pass', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }], clientTimeoutMs: 400 })
  const key = h.keys.rw as string
  const body = 'info=' + 'x'.repeat(10)
  const socket = await open(h)
  const done = closed(socket)
  socket.write(head(key, FORM, body.length).replace('Host: x', 'Host: x\r\nConnection: close'))
  await drip(socket, body, 100)
  const { text } = await done
  t.match(text, /^HTTP\/1\.1 200/, 'a body of 1.5 s in 100 ms steps is forwarded')
  t.equal(h.standin.requests.length, 1, 'MISP received it')

  h.standin.route('GET', '/servers/getversion', (_request, response) => {
    setTimeout(() => response.end('{"version":"2.5.1"}'), 1000)
  })
  const response = await send(h, 'GET', '/servers/getVersion', ['authorization', key])
  t.equal(response.status, 200, 'MISP may answer after the client timeout')
})

t.test('form body sent a byte at a time times out', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }], clientTimeoutMs: 2000, formBodyTimeoutMs: 600 })
  const body = 'info=' + 'x'.repeat(40)
  const socket = await open(h)
  const done = closed(socket)
  socket.write(head(h.keys.rw as string, FORM, body.length))
  void drip(socket, body, 100)
  const { text, afterMs } = await done
  t.match(text, /^HTTP\/1\.1 408 /, '408 before the body ends')
  t.match(text, /"reason":"body_timeout"/, 'reason body_timeout')
  t.ok(afterMs < 2000, `closed after ${afterMs} ms, before the idle timeout`)
  t.equal(h.standin.requests.length, 0, 'MISP received nothing')
})

t.test('denial with an unread body closes the connection', async (t) => {
  const h = await startHarness(t, { keys: [{ id: 'ro' }] })
  const denials: Array<[string, string]> = [['unknown key', 'A'.repeat(40)], ['read-only key', h.keys.ro as string]]
  for (const [name, key] of denials) {
    const socket = await open(h)
    const done = closed(socket)
    socket.write(head(key, FORM, 100_000) + 'info=abc')
    const { text, afterMs } = await done
    t.match(text, /^HTTP\/1\.1 40[13]/, `${name}: denied`)
    t.match(text.toLowerCase(), 'connection: close', `${name}: connection: close`)
    t.ok(afterMs < 2000, `${name}: closed without reading the body (${afterMs} ms)`)
  }
  const bodiless = await send(h, 'GET', '/events/view/1', ['authorization', 'A'.repeat(40)])
  t.equal(bodiless.status, 401, 'denial without a body: status')
  t.not(bodiless.headers.connection, 'close', 'denial without a body keeps the connection')
  t.equal(upstreamCount(h), 0, 'MISP received nothing')
})
