import { Counter, Histogram, Registry } from 'prom-client'
import { ReloadMetrics } from './policy/reload-metrics.js'
import { UsageMetrics } from './usage/metrics.js'

/**
 * The proxy's Prometheus metrics, in a registry of their own. Labels are bounded: key ids
 * come from the policy, reasons and outcomes from fixed lists; never an address or a path.
 */
export class Metrics {
  readonly registry = new Registry()

  readonly requests = new Counter({
    name: 'keygate_requests_total',
    help: 'Requests decided, by key id (empty when no known key was presented) and outcome.',
    labelNames: ['key_id', 'outcome'] as const,
    registers: [this.registry]
  })

  readonly denials = new Counter({
    name: 'keygate_denials_total',
    help: 'Requests denied or failed by the proxy, by key id (empty when unknown) and reason.',
    labelNames: ['key_id', 'reason'] as const,
    registers: [this.registry]
  })

  readonly duration = new Histogram({
    name: 'keygate_request_duration_seconds',
    help: 'Time from the request arriving to the response finishing, by outcome.',
    labelNames: ['outcome'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry]
  })

  readonly upstreamErrors = new Counter({
    name: 'keygate_upstream_errors_total',
    help: 'Forwarded requests that failed before MISP responded, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry]
  })

  readonly clientErrors = new Counter({
    name: 'keygate_client_errors_total',
    help: 'Connections closed by the HTTP parser for a malformed request.',
    registers: [this.registry]
  })

  readonly sensitiveRequests = new Counter({
    name: 'keygate_sensitive_requests_total',
    help: 'Requests to sensitive MISP actions, allowed or denied, by key id, sensitive category and outcome.',
    labelNames: ['key_id', 'category', 'outcome'] as const,
    registers: [this.registry]
  })

  /** Key expiry, last use and source addresses, unknown-key attempts, and the usage store. */
  readonly usage = new UsageMetrics(this.registry)

  readonly reload = new ReloadMetrics(this.registry)
}
