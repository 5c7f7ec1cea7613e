import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Metrics } from './metrics.js'
import type { PolicyStore } from './policy/store.js'
import { keyUsageJson, type UsageMemory } from './usage/memory.js'

export interface AdminOptions {
  readonly metrics: Metrics
  readonly policies: PolicyStore
  readonly usage: UsageMemory
  readonly logger: Logger
  /** False while the proxy is draining for shutdown. */
  readonly isServing: () => boolean
}

/**
 * The admin listener: metrics, health, readiness and usage. It has no authentication of
 * its own, so it listens on loopback unless the operator says otherwise.
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
    const body = { status: options.isServing() ? 'ready' : 'draining', policy: { file: policy.file, keys: policy.keys.length, generation: options.policies.generation } }
    return reply.code(options.isServing() ? 200 : 503).send(body)
  })
  app.get('/usage', async () => ({
    keys: options.policies.current.keys.map((key) => {
      const usage = options.usage.get(key.id)
      return usage === undefined ? { key_id: key.id, total: 0 } : keyUsageJson(usage)
    })
  }))
  app.get<{ Params: { keyId: string } }>('/usage/:keyId', async (request, reply) => {
    const { keyId } = request.params
    if (!options.policies.current.keys.some((key) => key.id === keyId)) {
      return reply.code(404).send({ name: 'Not Found', message: `No key "${keyId}" in the policy.`, url: request.url })
    }
    const usage = options.usage.get(keyId)
    return usage === undefined ? { key_id: keyId, total: 0 } : keyUsageJson(usage)
  })
  return app
}
