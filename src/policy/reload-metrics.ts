import { Counter, Gauge, type Registry } from 'prom-client'

/** Metrics of policy reloads, registered in the proxy's registry. */
export class ReloadMetrics {
  readonly reloads: Counter<'result'>
  readonly generation: Gauge
  readonly lastReload: Gauge
  readonly stale: Gauge

  constructor (registry: Registry) {
    this.reloads = new Counter({
      name: 'keygate_policy_reloads_total',
      help: 'Policy reload attempts by result: success (applied) or failure (the file did not load and the previous policy stayed in force).',
      labelNames: ['result'] as const,
      registers: [registry]
    })
    this.generation = new Gauge({
      name: 'keygate_policy_generation',
      help: 'Number of policies applied since start, the first one included.',
      registers: [registry]
    })
    this.lastReload = new Gauge({
      name: 'keygate_policy_last_reload_timestamp_seconds',
      help: 'Time the policy in force was loaded, in seconds since the epoch.',
      registers: [registry]
    })
    this.stale = new Gauge({
      name: 'keygate_policy_stale',
      help: '1 while the last reload failed, so the policy in force is older than the file; 0 otherwise.',
      registers: [registry]
    })
  }
}
