import { resolve } from 'node:path'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Metrics } from './metrics.js'
import type { PolicyStore } from './policy/store.js'
import type { PolicyReloader } from './reload.js'
import { registerReloadRoute, reloadStateJson } from './reload-routes.js'
import { registerUsageRoutes, type UsageSource } from './usage/admin-routes.js'

export interface AdminOptions {
  readonly metrics: Metrics
  readonly policies: PolicyStore
  readonly usage: UsageSource
  readonly logger: Logger
  /** Serves POST /reload and the stale state in /readyz when given. */
  readonly reloader?: Pick<PolicyReloader, 'reload' | 'state'>
  /** False while the proxy is draining for shutdown. */
  readonly isServing: () => boolean
}

/**
 * Builds the admin listener: metrics, health, readiness and usage. It has no
 * authentication of its own, so it listens on loopback unless configured otherwise.
 */
export async function buildAdmin (options: AdminOptions): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: options.logger as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) })

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.metrics.registry.contentType)
    return options.metrics.registry.metrics()
  })
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    const policy = options.policies.current
    // A stale policy keeps the status ready (200): the proxy serves the last good policy.
    const reload = options.reloader === undefined ? {} : reloadStateJson(options.reloader.state)
    // The absolute path, so that incident --revoke can tell this proxy's file from another policy.yaml.
    const body = { status: options.isServing() ? 'ready' : 'draining', policy: { file: resolve(policy.file), keys: policy.keys.length, generation: options.policies.generation, ...reload } }
    return reply.code(options.isServing() ? 200 : 503).send(body)
  })
  registerUsageRoutes(app, options.policies, options.usage)
  if (options.reloader !== undefined) registerReloadRoute(app, options.reloader)
  return app
}
