import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { send, startHarness } from './helpers/harness.js'

/** Makes a CA and a certificate for 127.0.0.1 signed by it, with openssl, in `dir`. */
function makeCertificates (dir: string): { ca: string, key: string, cert: string } {
  const run = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }) }
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=keygate test CA')
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'misp.key', '-out', 'misp.csr', '-subj', '/CN=127.0.0.1')
  const extensions = join(dir, 'san.ext')
  execFileSync('sh', ['-c', `printf 'subjectAltName=IP:127.0.0.1\\n' > ${extensions}`])
  run('x509', '-req', '-in', 'misp.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'misp.pem', '-days', '2', '-extfile', 'san.ext')
  const read = (name: string): string => readFileSync(join(dir, name), 'utf8')
  return { ca: read('ca.pem'), key: read('misp.key'), cert: read('misp.pem') }
}

t.test('MISP certificate is verified', async (t) => {
  const certificates = makeCertificates(t.testdir())
  const tls = { key: certificates.key, cert: certificates.cert }

  t.test('unknown CA: refused', async (t) => {
    const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }], standin: { tls } })
    const response = await send(h, 'GET', '/servers/getVersion', ['authorization', h.keys.rw as string])
    t.equal(response.status, 502, 'status')
    t.equal(response.body.reason, 'upstream_unavailable', 'reason')
    t.equal(h.standin.requests.length, 0, 'no request reached MISP')
  })

  t.test('CA given with --upstream-ca: forwarded', async (t) => {
    const h = await startHarness(t, { keys: [{ id: 'rw', readOnly: false }], standin: { tls }, upstreamCa: certificates.ca })
    const response = await send(h, 'GET', '/servers/getVersion', ['authorization', h.keys.rw as string])
    t.equal(response.status, 200, 'status')
    t.equal(response.body.version, '2.5.1', 'MISP answered over TLS')
  })
})
