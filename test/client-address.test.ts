import t from 'tap'
import { AddressSet } from '../src/net/address.js'
import { resolveClientAddress } from '../src/net/client.js'

function mustParseSet (entries: string[]): AddressSet {
  const result = AddressSet.parse(entries)
  if (!result.ok) throw new Error(`test set did not parse: ${result.message}`)
  return result.set
}

const TRUSTED = mustParseSet(['127.0.0.1', '10.0.0.0/8', '2001:db8:ffff::/48'])
const NOBODY = mustParseSet([])

function clientText (peer: string | undefined, forwardedFor: string[], trusted = TRUSTED): string {
  const result = resolveClientAddress(peer, forwardedFor, trusted)
  return result.ok ? result.text : `error: ${result.message}`
}

t.test('untrusted peer is the client', async (t) => {
  t.equal(clientText('192.0.2.7', []), '192.0.2.7')
  t.equal(clientText('2001:db8::7', []), '2001:db8::7')
  t.equal(clientText('::ffff:192.0.2.7', []), '192.0.2.7', 'IPv4-mapped peer is unwrapped')
})

t.test('untrusted peer cannot spoof with X-Forwarded-For', async (t) => {
  t.equal(clientText('192.0.2.7', ['198.51.100.1']), '192.0.2.7')
  t.equal(clientText('192.0.2.7', ['unknown', '127.1']), '192.0.2.7', 'bad entries from an untrusted peer are not read')
  t.equal(clientText('::ffff:192.0.2.7', ['10.1.1.1']), '192.0.2.7')
  t.equal(clientText('127.0.0.1', ['198.51.100.1'], NOBODY), '127.0.0.1', 'no trusted proxies configured')
})

t.test('trusted peer without X-Forwarded-For is the client', async (t) => {
  t.equal(clientText('127.0.0.1', []), '127.0.0.1')
  t.equal(clientText('::ffff:127.0.0.1', []), '127.0.0.1')
})

t.test('trusted peer: first untrusted hop from the right', async (t) => {
  t.equal(clientText('127.0.0.1', ['198.51.100.1']), '198.51.100.1')
  t.equal(clientText('127.0.0.1', ['203.0.113.5, 198.51.100.1, 10.2.3.4']), '198.51.100.1', 'trusted hop skipped, left entry not used')
  t.equal(clientText('127.0.0.1', ['203.0.113.5,198.51.100.1']), '198.51.100.1', 'no space after comma')
  t.equal(clientText('10.9.9.9', ['\t198.51.100.1 \t']), '198.51.100.1', 'spaces and tabs trimmed')
  t.equal(clientText('127.0.0.1', ['2001:DB8::1']), '2001:db8::1', 'IPv6 client normalized')
  t.equal(clientText('127.0.0.1', ['::ffff:198.51.100.1']), '198.51.100.1', 'IPv4-mapped hop unwrapped')
  t.equal(clientText('127.0.0.1', ['198.51.100.1', '2001:db8:ffff::9']), '198.51.100.1', 'trusted IPv6 hop skipped')
})

t.test('repeated X-Forwarded-For lines are joined in order', async (t) => {
  t.equal(clientText('127.0.0.1', ['203.0.113.5', '198.51.100.1']), '198.51.100.1', 'the last line is the right-most')
  t.equal(clientText('127.0.0.1', ['198.51.100.1', '10.0.0.1']), '198.51.100.1', 'a trusted last line is skipped')
})

t.test('all hops trusted: left-most is the client', async (t) => {
  t.equal(clientText('127.0.0.1', ['10.0.0.2, 10.0.0.1']), '10.0.0.2')
  t.equal(clientText('127.0.0.1', ['10.0.0.3', '10.0.0.2, 127.0.0.1']), '10.0.0.3')
})

t.test('trusted peer with a malformed entry is an error', async (t) => {
  const spoofs = ['127.1', '012.1.2.3', '1.2.3.4:80', '[::1]', '[::1]:443', 'unknown', 'fe80::1%eth0', '0x7f.0.0.1', '2130706433', 'for=1.2.3.4', '"1.2.3.4"', '1.2.3.4\u00a0']
  for (const entry of spoofs) {
    const result = resolveClientAddress('127.0.0.1', [entry], TRUSTED)
    t.equal(result.ok, false, `${JSON.stringify(entry)} is rejected`)
    if (!result.ok) t.match(result.message, `X-Forwarded-For entry 1 from the right ${JSON.stringify(entry)} is not a plain IPv4 or IPv6 address`)
  }
})

t.test('empty X-Forwarded-For entries are errors', async (t) => {
  for (const lines of [[''], ['198.51.100.1,'], ['198.51.100.1, ,10.0.0.1'], ['198.51.100.1', ''], [' ']]) {
    const result = resolveClientAddress('127.0.0.1', lines, TRUSTED)
    t.equal(result.ok, false, `${JSON.stringify(lines)} is rejected`)
    if (!result.ok) t.match(result.message, /X-Forwarded-For entry \d from the right is empty/)
  }
})

t.test('malformed entry behind a trusted hop is an error', async (t) => {
  const result = resolveClientAddress('127.0.0.1', ['127.1, 10.0.0.1'], TRUSTED)
  t.equal(result.ok, false)
  if (!result.ok) t.match(result.message, 'entry 2 from the right "127.1"')
})

t.test('entries left of the client are not read', async (t) => {
  t.equal(clientText('127.0.0.1', ['unknown, 198.51.100.1']), '198.51.100.1')
})

t.test('peer address problems are errors', async (t) => {
  const closed = resolveClientAddress(undefined, ['198.51.100.1'], TRUSTED)
  t.equal(closed.ok, false)
  if (!closed.ok) t.match(closed.message, 'no peer address')

  const odd = resolveClientAddress('127.1', [], TRUSTED)
  t.equal(odd.ok, false)
  if (!odd.ok) t.match(odd.message, 'the peer address "127.1" is not a valid IP address')
})

t.test('long rejected entries are cut in the message', async (t) => {
  const entry = 'x'.repeat(5000)
  const result = resolveClientAddress('127.0.0.1', [entry], TRUSTED)
  t.equal(result.ok, false)
  if (!result.ok) {
    t.ok(result.message.length < 400, 'message stays short')
    t.match(result.message, '(cut, 5000 characters)')
  }
})
