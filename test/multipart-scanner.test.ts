import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { MAX_HEADER_BLOCK, MultipartError, MultipartScanner } from '../src/request/multipart.js'
import { findBoundary } from '../src/request/form-body.js'

/** Runs `body` through a scanner in chunks of `size` bytes; returns what passed and the problem. */
async function scan (body: string, size: number, boundary = 'XyZ'): Promise<{ output: string, reason: string | undefined }> {
  const bytes = Buffer.from(body, 'latin1')
  const chunks: Buffer[] = []
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size))
  const received: Buffer[] = []
  const sink = new Writable({ write (chunk: Buffer, _encoding, done) { received.push(chunk); done() } })
  try {
    await pipeline(Readable.from(chunks), new MultipartScanner(boundary), sink)
    return { output: Buffer.concat(received).toString('latin1'), reason: undefined }
  } catch (error) {
    if (!(error instanceof MultipartError)) throw error
    return { output: Buffer.concat(received).toString('latin1'), reason: error.problem.reason }
  }
}

const SIZES = [1, 2, 3, 5, 7, 64, 100_000]
const PASSING = [
  '--XyZ\r\nContent-Disposition: form-data; name="info"\r\n\r\nhello\r\n--XyZ--\r\n',
  '--XyZ\r\nContent-Disposition: form-data; name="f"; filename="a"\r\n\r\nline\n--XyZx starts a part as PHP reads it\r\nContent-Disposition: form-data; name="x"\r\n\r\n--XyZ--\r\n',
  '--XyZ\r\nContent-Disposition: form-data; name="f"\r\n\r\n-\n--\n--X\n--Xy\nContent-Disposition: form-data; name="_method"\r\n\r\n--XyZ--',
  'preamble\r\n--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XyZ--',
  '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + 'z'.repeat(10_000) + '\r\n--XyZ--\r\n',
  ''
]

t.test('passing bodies come out unchanged in any chunking', async (t) => {
  for (const [index, body] of PASSING.entries()) {
    for (const size of SIZES) {
      const result = await scan(body, size)
      t.equal(result.reason, undefined, `body ${index}, chunks of ${size}: no problem`)
      t.equal(result.output, body, `body ${index}, chunks of ${size}: unchanged`)
    }
  }
})

t.test('a _method part never passes, in any chunking', async (t) => {
  const bodies = [
    '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XyZ\r\nContent-Disposition: form-data; name="_method"\r\n\r\nPUT\r\n--XyZ--\r\n',
    '--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\n--XyZ\nContent-Disposition: form-data; name="_method"\n\nPUT\n--XyZ--\n',
    '--XyZ--\r\nContent-Disposition: form-data; name="_method"\r\n\r\nPUT',
    '--XyZ\r\nContent-Disposition: form-data; name="_met\r\nhod"\r\n\r\nPUT\r\n--XyZ--',
    '--XyZ\r\nContent-Disposition: form-data; name="_method"'
  ]
  for (const [index, body] of bodies.entries()) {
    for (const size of SIZES) {
      const result = await scan(body, size)
      t.equal(result.reason, 'method_override', `body ${index}, chunks of ${size}: reason`)
      t.notMatch(result.output, /_met/, `body ${index}, chunks of ${size}: the _method header did not pass`)
    }
  }
})

t.test('header blocks and lines are bounded', async (t) => {
  const manyHeaders = '--XyZ\r\n' + 'X-Pad: 1234567890\r\n'.repeat(Math.ceil(MAX_HEADER_BLOCK / 19) + 1) + '\r\nbody\r\n--XyZ--'
  t.equal((await scan(manyHeaders, 1024)).reason, 'malformed_form_body', 'header block too large')
  t.equal((await scan(`--XyZ${'x'.repeat(5000)}\r\n\r\n`, 1024)).reason, 'malformed_form_body', 'boundary line too long')
  t.equal((await scan('--XyZ\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + 'z'.repeat(100_000) + '\r\n--XyZ--\r\n', 997)).reason, undefined, 'long contents pass')
})

t.test('boundary read as PHP reads it', async (t) => {
  const cases: Array<[string, string]> = [
    ['multipart/form-data; boundary=XyZ', 'XyZ'],
    ['multipart/form-data; boundary="Xy;Z"', 'Xy;Z'],
    ['multipart/form-data; BOUNDARY=XyZ; charset=utf-8', 'XyZ'],
    ['multipart/form-data; boundary=XyZ,other', 'XyZ'],
    ['multipart/form-data;boundary=a b', 'a b']
  ]
  for (const [header, boundary] of cases) t.equal(findBoundary(header), boundary, header)
  for (const header of ['multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary="x',
    'multipart/form-data; myboundary=a; boundary=b', `multipart/form-data; boundary=${'b'.repeat(201)}`]) {
    t.match(findBoundary(header), { reason: 'malformed_form_body' }, header.slice(0, 60))
  }
})
