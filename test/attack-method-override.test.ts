import { Readable } from 'node:stream'
import t from 'tap'
import { send, startHarness, upstreamCount, type Harness } from './helpers/harness.js'
import { auth, expectDenied, expectForwarded } from './helpers/expect.js'

// A key whose profile allows POST events/add but nothing that deletes: every way of
// turning that POST into another method must be stopped before MISP receives it.
const PROFILES = { adder: ['allow POST events/add', 'allow POST,PUT events/edit', 'allow GET events/view'] }
const FORM = 'application/x-www-form-urlencoded'

async function harness (t: Parameters<typeof startHarness>[0], formBodyLimit?: number): Promise<{ h: Harness, key: string }> {
  const h = await startHarness(t, { keys: [{ id: 'adder', readOnly: false, fields: ['profile: adder'] }], profiles: PROFILES, formBodyLimit })
  return { h, key: h.keys.adder as string }
}

function multipart (boundary: string, parts: string[], newline = '\r\n'): string {
  return parts.map((part) => `--${boundary}${newline}${part}${newline}`).join('') + `--${boundary}--${newline}`
}

t.test('override headers', async (t) => {
  const { h, key } = await harness(t)
  for (const name of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override', 'x-http-method-override', 'X-HTTP-METHOD-OVERRIDE']) {
    for (const value of ['DELETE', 'delete', 'POST', '']) {
      await expectDenied(t, h, ['POST', '/events/add', [...auth(key), name, value], '{}'], 400, 'method_override', `${name}: ${value}: `)
    }
  }
  await expectDenied(t, h, ['GET', '/events/view/1', [...auth(key), 'X-HTTP-Method-Override', 'DELETE']], 400, 'method_override')
  await expectForwarded(t, h, ['POST', '/events/add', [...auth(key), 'content-type', 'application/json', 'x-http-method-note', 'DELETE'], '{}'])
})

t.test('_method in the query string', async (t) => {
  const { h, key } = await harness(t)
  const queries = ['_method=DELETE', '%5fmethod=DELETE', '%5Fmethod=DELETE', '.method=DELETE', '+_method=DELETE', '%20_method=DELETE',
    '_method[]=DELETE', '_method[x]=DELETE', 'a=1&_method=DELETE', 'a=1;_method=DELETE', '_METHOD=DELETE', '_method', '_method=',
    '_m%65thod=DELETE', '_method%00x=DELETE', '_method[a%20b]=DELETE', '_method[a;b]=DELETE', "_method[a'b]=DELETE", '_method[a=DELETE',
    '_method%5Ba%20b%5D=DELETE', '.method[x]=DELETE']
  for (const query of queries) {
    await expectDenied(t, h, ['POST', `/events/add?${query}`, [...auth(key), 'content-type', 'application/json'], '{}'], 400, 'method_override')
  }
  for (const query of ['method=DELETE', 'x_method=1', '_methods=1', '_method_=1', 'a=_method']) {
    await expectForwarded(t, h, ['POST', `/events/add?${query}`, [...auth(key), 'content-type', 'application/json'], '{}'])
  }
})

t.test('_method in a URL-encoded body', async (t) => {
  const { h, key } = await harness(t)
  const types = [FORM, 'application/x-www-form-urlencoded; charset=utf-8', 'Application/X-WWW-Form-Urlencoded ; charset=UTF-8',
    'APPLICATION/X-WWW-FORM-URLENCODED', '  application/x-www-form-urlencoded', 'application/x-www-form-urlencoded;']
  for (const type of types) {
    await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', type], '_method=PUT'], 400, 'method_override', `${type}: `)
  }
  // PHP cuts the type at ',' too; Fastify cannot parse this header, so it never reaches MISP.
  await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', 'application/x-www-form-urlencoded,text/plain'], '_method=PUT'], 400, 'malformed_request')
  const bodies = ['_method=PUT', 'info=x&_method=DELETE', 'info=x;_method=DELETE', '.method=PUT', '%5Fmethod=PUT', '+_method=PUT',
    '%20%20_method=PUT', '_method[]=PUT', '_method[0]=PUT', '_METHOD=PUT', '_method', 'a=1&&_method=PUT&', '_meth%6fd=PUT',
    '_method[a b]=PUT', '_method[a;b]=PUT', "_method[a'b]=PUT", '_method[a+b]=PUT']
  for (const body of bodies) {
    await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', FORM], body], 400, 'method_override', `${body}: `)
  }
  await expectDenied(t, h, ['PUT', '/events/edit/1', [...auth(key), 'content-type', FORM], '_method=DELETE'], 400, 'method_override', 'PUT: ')
  await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', FORM], Readable.from([Buffer.from('_meth'), Buffer.from('od=PUT')])], 400, 'method_override', 'chunked: ')

  const allowed = 'info=method%3DPUT&method=PUT&x_method=1&data[_method]=PUT'
  await expectForwarded(t, h, ['POST', '/events/add', [...auth(key), 'content-type', FORM], allowed])
  t.equal(h.standin.requests.at(-1)?.bodyBytes, Buffer.byteLength(allowed), 'MISP received the whole body')
  const seenType = h.standin.requests.at(-1)?.rawHeaders.find((_value, index, all) => all[index - 1]?.toLowerCase() === 'content-type')
  t.equal(seenType, FORM, 'MISP received the Content-Type unchanged')
})

t.test('URL-encoded body limits', async (t) => {
  const { h, key } = await harness(t, 64)
  await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', FORM], 'a='.padEnd(65, 'x')], 413, 'body_too_large', 'Content-Length: ')
  await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', FORM], Readable.from([Buffer.from('a='), Buffer.alloc(63, 0x78)])], 413, 'body_too_large', 'chunked: ')
  await expectForwarded(t, h, ['POST', '/events/add', [...auth(key), 'content-type', FORM], 'a='.padEnd(64, 'x')])
  await expectForwarded(t, h, ['POST', '/events/add', [...auth(key), 'content-type', 'application/json'], JSON.stringify({ info: 'x'.repeat(200) })])
  await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', FORM, 'content-encoding', 'gzip'], 'a=1'], 400, 'encoded_form_body', 'gzip: ')
  await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', 'multipart/form-data; boundary=b', 'content-encoding', 'identity'], multipart('b', ['Content-Disposition: form-data; name="a"\r\n\r\n1'])], 400, 'encoded_form_body', 'multipart identity: ')
})

t.test('_method in a multipart body', async (t) => {
  const { h, key } = await harness(t)
  const type = 'multipart/form-data; boundary=XyZ'
  const parts: Array<[string, string]> = [
    ['quoted', 'Content-Disposition: form-data; name="_method"\r\n\r\nPUT'],
    ['unquoted', 'Content-Disposition: form-data; name=_method\r\n\r\nPUT'],
    ['single quotes', "Content-Disposition: form-data; name='_method'\r\n\r\nPUT"],
    ['upper case', 'CONTENT-DISPOSITION: FORM-DATA; NAME="_method"\r\n\r\nPUT'],
    ['leading space', 'Content-Disposition: form-data; name=" _method"\r\n\r\nPUT'],
    ['dot', 'Content-Disposition: form-data; name=".method"\r\n\r\nPUT'],
    ['array', 'Content-Disposition: form-data; name="_method[]"\r\n\r\nPUT'],
    ['space in brackets', 'Content-Disposition: form-data; name="_method[a b]"\r\n\r\nPUT'],
    ['semicolon in brackets', 'Content-Disposition: form-data; name="_method[a;b]"\r\n\r\nPUT'],
    ['quote in brackets', 'Content-Disposition: form-data; name="_method[a\'b]"\r\n\r\nPUT'],
    ['unclosed bracket', 'Content-Disposition: form-data; name="_method[a"\r\n\r\nPUT'],
    ['second name wins in PHP', 'Content-Disposition: form-data; name="info"; name="_method"\r\n\r\nPUT'],
    ['spaces around =', 'Content-Disposition: form-data; name = "_method"\r\n\r\nPUT'],
    ['folded with space', 'Content-Disposition: form-data;\r\n name="_method"\r\n\r\nPUT'],
    ['continued without colon', 'Content-Disposition: form-data; name="_met\r\nhod"\r\n\r\nPUT'],
    ['file part', 'Content-Disposition: form-data; name="_method"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nPUT'],
    ['second header', 'Content-Type: text/plain\r\nContent-Disposition: form-data; name="_method"\r\n\r\nPUT'],
    ['unterminated quote', 'Content-Disposition: form-data; name="_method\r\n\r\nPUT'],
    ['no blank line before the end', 'Content-Disposition: form-data; name="_method"']
  ]
  for (const [name, part] of parts) {
    const body = name === 'no blank line before the end' ? `--XyZ\r\n${part}` : multipart('XyZ', ['Content-Disposition: form-data; name="info"\r\n\r\nx', part])
    await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', type], body], 400, 'method_override', `${name}: `)
  }

  const tricks: Array<[string, string, string]> = [
    ['LF line ends', type, multipart('XyZ', ['Content-Disposition: form-data; name="_method"\n\nPUT'], '\n')],
    ['after the closing delimiter', type, multipart('XyZ', ['Content-Disposition: form-data; name="a"\r\n\r\n1']) + '--XyZ\r\nContent-Disposition: form-data; name="_method"\r\n\r\nPUT\r\n'],
    ['delimiter line inside headers', type, '--XyZ\r\nContent-Disposition: form-data; name="_method"\r\n--XyZ\r\n\r\nPUT\r\n--XyZ--\r\n'],
    ['delimiter prefix line', type, '--XyZabc\r\nContent-Disposition: form-data; name="_method"\r\n\r\nPUT\r\n--XyZ--\r\n'],
    ['quoted boundary', 'multipart/form-data; boundary="XyZ"', multipart('XyZ', ['Content-Disposition: form-data; name="_method"\r\n\r\nPUT'])],
    ['boundary with charset after', 'multipart/form-data; boundary=XyZ; charset=utf-8', multipart('XyZ', ['Content-Disposition: form-data; name="_method"\r\n\r\nPUT'])],
    ['type in capitals', 'Multipart/Form-Data; BOUNDARY=XyZ', multipart('XyZ', ['Content-Disposition: form-data; name="_method"\r\n\r\nPUT'])],
    ['preamble', type, 'preamble text\r\n' + multipart('XyZ', ['Content-Disposition: form-data; name="_method"\r\n\r\nPUT'])]
  ]
  for (const [name, contentType, body] of tricks) {
    await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', contentType], body], 400, 'method_override', `${name}: `)
  }
  await expectDenied(t, h, ['PUT', '/events/edit/1', [...auth(key), 'content-type', type], multipart('XyZ', ['Content-Disposition: form-data; name="_method"\r\n\r\nDELETE'])], 400, 'method_override', 'PUT: ')
})

t.test('multipart bodies that cannot be read unambiguously', async (t) => {
  const { h, key } = await harness(t)
  const body = multipart('XyZ', ['Content-Disposition: form-data; name="a"\r\n\r\n1'])
  const types = ['multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary="XyZ',
    'multipart/form-data; xboundary=abc; boundary=XyZ', 'multipart/form-data; boundary=XyZ; boundary=abc', `multipart/form-data; boundary=${'x'.repeat(201)}`]
  for (const type of types) {
    await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', type], body], 400, 'malformed_form_body', `${type.slice(0, 60)}: `)
  }
  const longLine = `--XyZ\r\nContent-Disposition: form-data; name="a"; x="${'y'.repeat(5000)}"\r\n\r\n1\r\n--XyZ--\r\n`
  await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', 'multipart/form-data; boundary=XyZ'], longLine], 400, 'malformed_form_body', 'long header line: ')
  const longPreamble = 'p'.repeat(6000) + '--XyZ\r\nContent-Disposition: form-data; name="_method"\r\n\r\nPUT\r\n--XyZ--\r\n'
  await expectDenied(t, h, ['POST', '/events/add', [...auth(key), 'content-type', 'multipart/form-data; boundary=XyZ'], longPreamble], 400, 'malformed_form_body', 'long preamble line: ')
})

t.test('multipart bodies that pass', async (t) => {
  const { h, key } = await harness(t)
  const type = 'multipart/form-data; boundary=XyZ'
  const content = 'line one\r\nContent-Disposition: form-data; name="_method"\r\n\r\n--XyZnot a delimiter at the start? it is, so no\r\n'.replace('--XyZnot a delimiter at the start? it is, so no\r\n', 'x--XyZ in the middle\r\n')
  const body = multipart('XyZ', [
    'Content-Disposition: form-data; name="info"\r\n\r\nmethod=_method',
    `Content-Disposition: form-data; name="file"; filename="_method.txt"\r\nContent-Type: text/plain\r\n\r\n${content}`,
    'Content-Disposition: form-data; name="data[_method]"\r\n\r\nPUT',
    'Content-Disposition: form-data; name="x_method"\r\n\r\nPUT',
    'Content-Disposition: form-data; name="_methods[a b]"\r\n\r\nPUT',
    'Content-Disposition: form-data; name="data[_method a]"\r\n\r\nPUT'
  ])
  await expectForwarded(t, h, ['POST', '/events/add', [...auth(key), 'content-type', type], body])
  t.equal(h.standin.requests.at(-1)?.bodyBytes, Buffer.byteLength(body), 'MISP received the whole body')

  const binary = Buffer.concat([Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'), Buffer.alloc(3 * 1024 * 1024, 0x41), Buffer.from('\r\n--XyZ--\r\n')])
  await expectForwarded(t, h, ['POST', '/events/add', [...auth(key), 'content-type', type], binary])
  t.equal(h.standin.requests.at(-1)?.bodyBytes, binary.length, 'MISP received a 3 MiB part whole')
  await expectForwarded(t, h, ['POST', '/events/add', [...auth(key), 'content-type', 'application/json'], '{"_method":"DELETE"}'])
})

t.test('form body on a denied route is not read', async (t) => {
  const { h, key } = await harness(t)
  await expectDenied(t, h, ['POST', '/events/delete/1', [...auth(key), 'content-type', FORM], 'a=1'], 403, 'profile_denied')
  const before = upstreamCount(h)
  const response = await send(h, 'POST', '/events/add', [...auth(key), 'content-type', FORM], '_method=PUT')
  t.equal(response.headers.connection, 'close', 'the connection closes after a body denial')
  t.equal(upstreamCount(h), before, 'MISP received nothing')
})
