// Measures the usage store: the cost of record() on the request path, the time of one
// flush (main thread and writer thread), and the proxy thread's event-loop delay while
// batches are written. Run:
//   TS_NODE_TRANSPILE_ONLY=1 node --import=@tapjs/typescript/import bench/usage.ts
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { serialize } from 'node:v8'
import { pino } from 'pino'
import { Metrics } from '../src/metrics.js'
import { PolicyStore } from '../src/policy/store.js'
import type { Policy } from '../src/policy/types.js'
import { DEFAULT_AGGREGATE_LIMITS, UsageAggregator } from '../src/usage/aggregate.js'
import { UsageMemory } from '../src/usage/memory.js'
import type { UsageEvent } from '../src/usage/recorder.js'
import { UsageStore } from '../src/usage/store.js'

const START = Date.parse('2026-12-04T12:00:00Z')
const ROUTES = ['events/restsearch', 'attributes/restsearch', 'events/view', 'events/index', 'servers/getversion', 'events/add', 'attributes/add', 'tags/index', 'sightings/add', 'admin/users/add']

/** A request mix: 10 keys, `addresses` client addresses, 10 routes, 5% denied, 1% sensitive. */
function makeEvents (count: number, addresses: number, start = START): UsageEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const sensitive = i % 100 === 0
    const denied = i % 20 === 1
    return {
      time: start + i,
      requestId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      keyId: `key-${i % 10}`,
      address: `10.${(i % addresses) >> 16 & 255}.${(i % addresses) >> 8 & 255}.${(i % addresses) & 255}`,
      method: 'POST',
      route: sensitive ? 'admin/users/add' : ROUTES[i % 9],
      category: sensitive ? 'users' : undefined,
      routeKind: sensitive ? 'sensitive' : i % 9 >= 5 ? 'write' : 'read',
      status: denied ? 403 : 200,
      reason: denied ? 'read_only' : undefined,
      outcome: denied ? 'denied' : 'allowed'
    }
  })
}

async function openStore (dir: string, name: string): Promise<UsageStore> {
  const policy: Policy = { version: 1, file: 'bench', keys: [], byDigest: new Map(), profiles: new Map() }
  return await UsageStore.open({
    path: join(dir, name),
    flushIntervalMs: 3_600_000, // flushed by hand below
    retentionDays: 400,
    policies: new PolicyStore(policy),
    metrics: new Metrics(),
    logger: pino({ level: 'silent' })
  })
}

function nsPerCall (events: readonly UsageEvent[], record: (event: UsageEvent) => void): number {
  const started = performance.now()
  for (const event of events) record(event)
  return (performance.now() - started) * 1e6 / events.length
}

async function benchRecord (dir: string): Promise<void> {
  const store = await openStore(dir, 'record.sqlite')
  const memory = new UsageMemory()
  const rounds = 10
  const storeNs: number[] = []
  const memoryNs: number[] = []
  for (let round = 0; round < rounds; round++) {
    // 50,000 requests: one flush interval at 50,000 requests per second.
    const events = makeEvents(50_000, 1_000, START + round * 50_000)
    memoryNs.push(nsPerCall(events, (event) => { memory.record(event) }))
    storeNs.push(nsPerCall(events, (event) => { store.record(event) }))
    await store.flush()
  }
  await store.close()
  console.log('record() per request, 10 rounds of 50,000 requests (first round is warm-up):')
  console.log(`  UsageStore.record:  median ${median(storeNs.slice(1)).toFixed(0)} ns, max ${Math.max(...storeNs.slice(1)).toFixed(0)} ns`)
  console.log(`  UsageMemory.record: median ${median(memoryNs.slice(1)).toFixed(0)} ns (the in-memory recorder it replaced)`)
}

async function benchFlush (dir: string): Promise<void> {
  const shapes: ReadonlyArray<readonly [string, number, number]> = [
    ['1,000 requests, 1 address per key', 1_000, 1],
    ['10,000 requests, 1,000 addresses', 10_000, 1_000],
    ['50,000 requests, 1,000 addresses', 50_000, 1_000],
    ['50,000 requests, 10,000 new addresses', 50_000, 10_000]
  ]
  console.log('flush, 5 runs each: serializing the batch on the proxy thread (what postMessage does), and the time to the writer thread\'s answer:')
  for (const [label, count, addresses] of shapes) {
    const store = await openStore(dir, `flush-${count}-${addresses}.sqlite`)
    const serializeMs: number[] = []
    const totalMs: number[] = []
    for (let run = 0; run < 5; run++) {
      const events = makeEvents(count, addresses, START + run * 3_600_000)
      serializeMs.push(timeSerialize(events))
      for (const event of events) store.record(event)
      const started = performance.now()
      await store.flush()
      totalMs.push(performance.now() - started)
    }
    await store.close()
    console.log(`  ${label}: serialize median ${median(serializeMs).toFixed(1)} ms, flush median ${median(totalMs).toFixed(1)} ms (max ${Math.max(...totalMs).toFixed(1)} ms)`)
  }
}

/** Aggregates the events as the store does and times v8.serialize of the batch: the proxy thread's share of a flush. */
function timeSerialize (events: readonly UsageEvent[]): number {
  const aggregator = new UsageAggregator(DEFAULT_AGGREGATE_LIMITS, () => {})
  for (const event of events) aggregator.add(event)
  const started = performance.now()
  serialize(aggregator.take())
  return performance.now() - started
}

/** Records 20,000 requests per second for 10 s, with a flush every second when `store` is given. */
async function loopDelay (record: (event: UsageEvent) => void, flush: (() => Promise<void>) | undefined): Promise<{ sent: number, p50: number, p99: number, max: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  const perTick = 200 // 200 requests every 10 ms
  let sent = 0
  histogram.enable()
  const ticker = setInterval(() => {
    for (const event of makeEvents(perTick, 1_000, START + sent)) record(event)
    sent += perTick
  }, 10)
  const flusher = flush === undefined ? undefined : setInterval(() => { void flush() }, 1_000)
  await new Promise((resolve) => setTimeout(resolve, 10_000))
  clearInterval(ticker)
  clearInterval(flusher)
  histogram.disable()
  return { sent, p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 }
}

async function benchLoopDelay (dir: string): Promise<void> {
  const memory = new UsageMemory()
  const baseline = await loopDelay((event) => { memory.record(event) }, undefined)
  const store = await openStore(dir, 'loop.sqlite')
  const withStore = await loopDelay((event) => { store.record(event) }, async () => { await store.flush() })
  await store.close()
  console.log('event-loop delay of the proxy thread, recording 20,000 requests per second for 10 s (1,000 addresses):')
  for (const [label, result] of [['UsageMemory, no database', baseline], ['UsageStore, a flush every second', withStore]] as const) {
    console.log(`  ${label}: ${result.sent.toLocaleString('en')} requests, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, max ${result.max.toFixed(2)} ms`)
  }
}

function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

const dir = mkdtempSync(join(tmpdir(), 'keygate-usage-bench-'))
try {
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node.js ${process.version}`)
  await benchRecord(dir)
  await benchFlush(dir)
  await benchLoopDelay(dir)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
