import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** Values read when /metrics is scraped. Times are milliseconds since the epoch. */
export interface UsageGaugeSource {
  keyExpiries (): Iterable<readonly [string, number]>
  keyLastUsed (): Iterable<readonly [string, number]>
  keyAddresses (): Iterable<readonly [string, number]>
  unknownKeyMaxPerAddress (): number
  /** Age of the oldest request not yet written to the database; 0 when all are written. */
  flushLagSeconds (): number
}

/**
 * Metrics of key usage and of the usage store. Per-key gauges carry only key ids of the
 * policy in force; the unknown-key metrics carry no label at all.
 */
export class UsageMetrics {
  /** Set once the usage store runs; until then the gauges below are empty. */
  source: UsageGaugeSource | undefined

  readonly keyExpiry: Gauge<'key_id'>
  readonly keyLastUsed: Gauge<'key_id'>
  readonly keyAddresses: Gauge<'key_id'>
  readonly newAddresses: Counter<'key_id'>
  readonly unknownKeyAttempts: Counter
  readonly unknownKeyMaxPerAddress: Gauge
  readonly flushLag: Gauge
  readonly flushDuration: Histogram
  readonly flushErrors: Counter
  readonly lastFlush: Gauge
  readonly dropped: Counter<'kind'>

  constructor (registry: Registry) {
    const registers = [registry]
    this.keyExpiry = new Gauge({
      name: 'keygate_key_expiry_timestamp_seconds',
      help: 'When the key expires, for keys of the policy that have an expiry.',
      labelNames: ['key_id'] as const,
      registers,
      collect: () => { setPerKey(this.keyExpiry, this.source?.keyExpiries()) }
    })
    this.keyLastUsed = new Gauge({
      name: 'keygate_key_last_used_timestamp_seconds',
      help: 'When a request with the key was last forwarded to MISP, for keys of the policy used at least once.',
      labelNames: ['key_id'] as const,
      registers,
      collect: () => { setPerKey(this.keyLastUsed, this.source?.keyLastUsed()) }
    })
    this.keyAddresses = new Gauge({
      name: 'keygate_key_source_addresses',
      help: 'Distinct client addresses recorded for the key, within the usage retention period.',
      labelNames: ['key_id'] as const,
      registers,
      collect: () => { setPerKey(this.keyAddresses, this.source?.keyAddresses(), 1) }
    })
    this.newAddresses = new Counter({
      name: 'keygate_key_new_source_addresses_total',
      help: 'Client addresses seen for the first time with the key (the first use of a key included).',
      labelNames: ['key_id'] as const,
      registers
    })
    this.unknownKeyAttempts = new Counter({
      name: 'keygate_unknown_key_attempts_total',
      help: 'Requests with a well-formed API key that is not in the policy.',
      registers
    })
    this.unknownKeyMaxPerAddress = new Gauge({
      name: 'keygate_unknown_key_max_attempts_per_address',
      help: 'Highest number of unknown-key requests from any one client address in the last 50 to 60 seconds.',
      registers,
      collect: () => { this.unknownKeyMaxPerAddress.set(this.source?.unknownKeyMaxPerAddress() ?? 0) }
    })
    this.flushLag = new Gauge({
      name: 'keygate_usage_flush_lag_seconds',
      help: 'Age of the oldest request not yet written to the usage database; 0 when all are written.',
      registers,
      collect: () => { this.flushLag.set(this.source?.flushLagSeconds() ?? 0) }
    })
    this.flushDuration = new Histogram({
      name: 'keygate_usage_flush_duration_seconds',
      help: 'Time to write one batch of usage records, from posting it to the writer thread to its response.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers
    })
    this.flushErrors = new Counter({
      name: 'keygate_usage_flush_errors_total',
      help: 'Batches of usage records that could not be written; they are kept and retried.',
      registers
    })
    this.lastFlush = new Gauge({
      name: 'keygate_usage_last_flush_timestamp_seconds',
      help: 'When a batch of usage records was last written.',
      registers
    })
    this.dropped = new Counter({
      name: 'keygate_usage_records_dropped_total',
      help: 'Usage records lost because the buffer of unwritten records was full, by kind (address, hourly, keyless, event).',
      labelNames: ['kind'] as const,
      registers
    })
  }
}

/** Replaces every series of the gauge; values are divided by `divisor` (1000 turns ms into seconds). */
function setPerKey (gauge: Gauge<'key_id'>, values: Iterable<readonly [string, number]> | undefined, divisor = 1000): void {
  gauge.reset()
  if (values === undefined) return
  for (const [keyId, value] of values) gauge.set({ key_id: keyId }, value / divisor)
}
