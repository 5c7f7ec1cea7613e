// Measures the per-request address work: parseIpAddress and AddressSet.has on small and
// large allowlists. Run: TS_NODE_TRANSPILE_ONLY=1 node --import=@tapjs/typescript/import bench/address-set.ts
import { cpus } from 'node:os'
import { AddressSet, parseIpAddress, type IpAddress } from '../src/net/address.js'

const LOOKUPS = 1_000_000

function buildSet (entries: string[]): AddressSet {
  const result = AddressSet.parse(entries)
  if (!result.ok) throw new Error(result.message)
  return result.set
}

function measure (label: string, work: (index: number) => unknown): void {
  for (let index = 0; index < LOOKUPS / 10; index++) work(index)
  const start = performance.now()
  let sink = 0
  for (let index = 0; index < LOOKUPS; index++) if (work(index) !== undefined) sink++
  const nanoseconds = ((performance.now() - start) * 1e6) / LOOKUPS
  console.log(`${label.padEnd(46)} ${nanoseconds.toFixed(0).padStart(5)} ns per call (${sink} defined results)`)
}

const clients: IpAddress[] = Array.from({ length: 1024 }, (_, index) => {
  const text = index % 4 === 0 ? `2001:db8:${index.toString(16)}::1` : `10.${index % 256}.${(index >> 2) % 256}.7`
  const address = parseIpAddress(text)
  if (address === undefined) throw new Error(`bench address ${text} did not parse`)
  return address
})
const small = buildSet(['203.0.113.10', '198.51.100.0/24', '2001:db8::/48'])
const largeIpv4 = buildSet(Array.from({ length: 10_000 }, (_, index) => `172.${16 + (index >> 12)}.${(index >> 4) & 255}.${(index & 15) * 16}/28`))
const largeIpv6 = buildSet(Array.from({ length: 1_000 }, (_, index) => `2001:db8:${index.toString(16)}::/48`))

console.log(`machine: ${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}`)
measure('parseIpAddress IPv4', (index) => parseIpAddress(`10.1.${index & 255}.7`))
measure('parseIpAddress IPv4-mapped IPv6', (index) => parseIpAddress(`::ffff:10.1.${index & 255}.7`))
measure('parseIpAddress IPv6', (index) => parseIpAddress(`2001:db8::${(index & 0xffff).toString(16)}`))
measure('has, 3 entries', (index) => small.has(clients[index & 1023] as IpAddress) || undefined)
measure('has, 10,000 IPv4 /28 entries', (index) => largeIpv4.has(clients[index & 1023] as IpAddress) || undefined)
measure('has, 1,000 IPv6 /48 entries (linear scan)', (index) => largeIpv6.has(clients[index & 1023] as IpAddress) || undefined)
