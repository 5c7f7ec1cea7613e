import t from 'tap'
import fc from 'fast-check'
import ipaddr from 'ipaddr.js'
import { AddressSet, formatIpAddress, parseCidr, parseIpAddress } from '../src/net/address.js'

function parsedText (text: string): string | undefined {
  const address = parseIpAddress(text)
  return address === undefined ? undefined : `${address.kind()} ${formatIpAddress(address)}`
}

function mustParse (text: string): ipaddr.IPv4 | ipaddr.IPv6 {
  const address = parseIpAddress(text)
  if (address === undefined) throw new Error(`test address ${text} did not parse`)
  return address
}

function mustParseSet (entries: string[]): AddressSet {
  const result = AddressSet.parse(entries)
  if (!result.ok) throw new Error(`test set did not parse: ${result.message}`)
  return result.set
}

t.test('parseIpAddress accepts the strict forms', async (t) => {
  const cases: Array<[string, string]> = [
    ['10.1.2.3', 'ipv4 10.1.2.3'],
    ['0.0.0.0', 'ipv4 0.0.0.0'],
    ['255.255.255.255', 'ipv4 255.255.255.255'],
    ['192.0.2.199', 'ipv4 192.0.2.199'],
    ['2001:db8::1', 'ipv6 2001:db8::1'],
    ['2001:DB8::1', 'ipv6 2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', 'ipv6 2001:db8::1'],
    ['::', 'ipv6 ::'],
    ['::1', 'ipv6 ::1'],
    ['1::', 'ipv6 1::'],
    ['1:2:3:4:5:6:7::', 'ipv6 1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', 'ipv6 0:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:192.0.2.1', 'ipv6 1:2:3:4:5:6:c000:201'],
    ['::192.0.2.1', 'ipv6 ::c000:201'],
    ['64:ff9b::192.0.2.1', 'ipv6 64:ff9b::c000:201']
  ]
  for (const [text, expected] of cases) t.equal(parsedText(text), expected, text)
})

t.test('parseIpAddress unwraps IPv4-mapped IPv6', async (t) => {
  for (const text of ['::ffff:10.1.2.3', '::FFFF:10.1.2.3', '::ffff:a01:203', '0:0:0:0:0:ffff:10.1.2.3', '0:0:0:0:0:ffff:0a01:0203']) {
    t.equal(parsedText(text), 'ipv4 10.1.2.3', text)
  }
})

t.test('parseIpAddress rejects lenient and ambiguous forms', async (t) => {
  const rejected = [
    '012.1.2.3', '10.01.2.3', '00.1.2.3', '127.1', '127.0.1', '0x7f.0.0.1', '0x7f000001', '2130706433',
    '017700000001', '256.1.2.3', '1.2.3.4.5', '1.2.3.', '.1.2.3', '1..2.3', '+1.2.3.4', '1.2.3.-4',
    ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4\n', '1.2.3.4:80', '1.2.3.4/32', '[::1]', '[::1]:80', 'fe80::1%eth0',
    'fe80::1%25eth0', ':::', ':::1', '1::2::3', ':1::', '1:', ':1', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', '12345::', 'g::1', '::1.2.3', '::012.1.2.3', '::ffff:012.1.2.3',
    '::ffff:127.1', '1.2.3.4::', '1.2.3.4::1', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3.4:5', '', ' ', 'unknown',
    'localhost', '१.२.३.४', '1.2.3.4\u0000', 'a'.repeat(1000)
  ]
  for (const text of rejected) t.equal(parseIpAddress(text), undefined, JSON.stringify(text))
})

t.test('parseIpAddress agrees with ipaddr.js on generated addresses', async (t) => {
  const octets = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 })
  fc.assert(fc.property(octets, (parts) => {
    const address = parseIpAddress(parts.join('.'))
    return address !== undefined && address.toString() === parts.join('.')
  }))

  const groups = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 })
  fc.assert(fc.property(groups, (parts) => {
    const expected = ipaddr.process(new ipaddr.IPv6(parts).toNormalizedString())
    const fixedLength = parts.map((part) => part.toString(16).padStart(4, '0')).join(':')
    const forms = [new ipaddr.IPv6(parts).toNormalizedString(), new ipaddr.IPv6(parts).toRFC5952String(), fixedLength]
    return forms.every((form) => parseIpAddress(form)?.toString() === expected.toString())
  }))
  t.pass('properties held')
})

t.test('parseCidr accepts canonical ranges', async (t) => {
  const cases: Array<[string, string]> = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['203.0.113.10', '203.0.113.10/32'],
    ['203.0.113.10/32', '203.0.113.10/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['198.51.100.0/24', '198.51.100.0/24'],
    ['2001:db8::/48', '2001:db8::/48'],
    ['2001:DB8:0::/48', '2001:db8::/48'],
    ['2001:db8::1', '2001:db8::1/128'],
    ['::/0', '::/0'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['::ffff:10.0.0.0/104', '10.0.0.0/8'],
    ['::ffff:10.1.2.3', '10.1.2.3/32']
  ]
  for (const [text, expected] of cases) {
    const result = parseCidr(text)
    t.same(result.ok ? result.range.text : result.message, expected, text)
  }
})

t.test('parseCidr rejects odd notation with a fix', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['010.0.0.0/8', /"010\.0\.0\.0\/8" is not a valid IPv4 address: write four decimal parts 0-255 without leading zeros/],
    ['10.1/16', /"10\.1\/16" is not a valid IPv4 address/],
    ['0x0a.0.0.0/8', /"0x0a\.0\.0\.0\/8" is not a valid IPv4 address/],
    ['167772161', /"167772161" is not a valid IPv4 address/],
    ['10.0.0.0/33', /prefix length 33, which is out of range for IPv4\. Write a prefix length from 0 to 32/],
    ['2001:db8::/129', /prefix length 129, which is out of range for IPv6\. Write a prefix length from 0 to 128/],
    ['10.0.0.0/8.0', /prefix length "8\.0", which is not a whole number/],
    ['10.0.0.0/08', /prefix length "08", which is not a whole number\. .*without leading zeros/],
    ['10.0.0.0/', /prefix length "", which is not a whole number/],
    ['10.0.0.0/-1', /prefix length "-1", which is not a whole number/],
    ['10.0.0.0/8/8', /prefix length "8\/8", which is not a whole number/],
    ['10.0.0.0/ 8', /prefix length " 8", which is not a whole number/],
    ['10.1.2.3/8', /^10\.1\.2\.3\/8 has host bits set; write 10\.0\.0\.0\/8$/],
    ['2001:db8::1/48', /^2001:db8::1\/48 has host bits set; write 2001:db8::\/48$/],
    ['::ffff:10.1.2.3/104', /has host bits set; write 10\.0\.0\.0\/8$/],
    ['fe80::1%eth0', /"fe80::1%eth0" has a zone id .* Remove it/],
    ['fe80::%eth0/64', /has a zone id/],
    ['[2001:db8::]/48', /because of the brackets\. Write the IPv6 address without them/],
    ['2001:db8:::/48', /is not a valid IPv6 address: write it in RFC 4291 text form/],
    ['', /an empty entry is not an address/],
    ['any', /"any" is not a valid IPv4 address/]
  ]
  for (const [text, pattern] of cases) {
    const result = parseCidr(text)
    t.notOk(result.ok, `${text} is rejected`)
    if (!result.ok) t.match(result.message, pattern, text)
  }
})

t.test('AddressSet matches IPv4 ranges', async (t) => {
  const set = mustParseSet(['203.0.113.10', '198.51.100.0/24', '10.0.0.0/8'])
  t.same(set.entries, ['203.0.113.10/32', '198.51.100.0/24', '10.0.0.0/8'])
  t.equal(set.anywhere, false)
  t.ok(set.has(mustParse('203.0.113.10')), 'exact address')
  t.notOk(set.has(mustParse('203.0.113.11')), 'neighbour of a /32')
  t.ok(set.has(mustParse('198.51.100.255')), 'top of a /24')
  t.notOk(set.has(mustParse('198.51.101.0')), 'just past a /24')
  t.ok(set.has(mustParse('10.255.255.255')), 'top of a /8')
  t.notOk(set.has(mustParse('11.0.0.0')), 'just past a /8')
})

t.test('AddressSet unwraps IPv4-mapped clients', async (t) => {
  const set = mustParseSet(['10.0.0.0/8'])
  t.ok(set.has(mustParse('::ffff:10.1.2.3')), '::ffff:10.1.2.3 is inside 10.0.0.0/8')
  t.notOk(set.has(mustParse('::ffff:11.1.2.3')), '::ffff:11.1.2.3 is outside 10.0.0.0/8')

  const mappedRange = mustParseSet(['::ffff:10.0.0.0/104'])
  t.same(mappedRange.entries, ['10.0.0.0/8'])
  t.ok(mappedRange.has(mustParse('10.9.9.9')), 'an IPv4 client matches a mapped range')
})

t.test('AddressSet of one family rejects the other', async (t) => {
  const ipv4Only = mustParseSet(['10.0.0.0/8', '0.0.0.0/0'])
  t.equal(ipv4Only.has(mustParse('2001:db8::1')), false, 'IPv6 client against an IPv4-only set')

  const ipv6Only = mustParseSet(['2001:db8::/48', '::/0'])
  t.equal(ipv6Only.has(mustParse('10.1.2.3')), false, 'IPv4 client against an IPv6-only set')
  t.ok(ipv6Only.has(mustParse('2001:db8:0:1::5')), 'IPv6 client inside 2001:db8::/48')

  const narrowIpv6 = mustParseSet(['2001:db8::/48'])
  t.notOk(narrowIpv6.has(mustParse('2001:db9::1')), 'IPv6 client outside 2001:db8::/48')
})

t.test('AddressSet anywhere needs 0.0.0.0/0 or ::/0', async (t) => {
  const everywhere = mustParseSet(['0.0.0.0/0', '::/0'])
  t.equal(everywhere.anywhere, true)
  t.ok(everywhere.has(mustParse('192.0.2.1')))
  t.ok(everywhere.has(mustParse('2001:db8::1')))
  t.equal(mustParseSet(['::/0']).anywhere, true)
  t.equal(mustParseSet(['0.0.0.0/1', '128.0.0.0/1']).anywhere, false)
  t.equal(mustParseSet([]).has(mustParse('192.0.2.1')), false, 'an empty set contains nothing')
})

t.test('AddressSet.parse names the first bad entry', async (t) => {
  const result = AddressSet.parse(['10.0.0.0/8', '10.1.2.3/8', '127.1'])
  t.equal(result.ok, false)
  if (!result.ok) {
    t.equal(result.index, 1)
    t.equal(result.message, '10.1.2.3/8 has host bits set; write 10.0.0.0/8')
  }
})

t.test('AddressSet agrees with ipaddr.js match', async (t) => {
  const ipv4 = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }).map((octets) => new ipaddr.IPv4(octets))
  const range = fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([address, prefixLength]) => {
    const network = ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${prefixLength}`)
    return `${network.toString()}/${prefixLength}`
  })
  fc.assert(fc.property(fc.array(range, { maxLength: 8 }), ipv4, (ranges, address) => {
    const expected = ranges.some((text) => address.match(ipaddr.parseCIDR(text)))
    return mustParseSet(ranges).has(address) === expected
  }), { numRuns: 2000 })
  t.pass('property held')
})
