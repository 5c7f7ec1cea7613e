import type { FastifyInstance, FastifyReply } from 'fastify'
import type { PolicyStore } from '../policy/store.js'
import { errorCode } from './errors.js'
import { keyDetailJson, keyUsageJson, unusedKeyJson } from './json.js'
import type { KeyDetail } from './protocol.js'
import type { KeyUsageRecord } from './records.js'

/** Source of the admin listener's usage data: the usage store, whose reads run on its writer thread. */
export interface UsageSource {
  keys (): Promise<KeyUsageRecord[]>
  key (keyId: string, eventLimit?: number): Promise<KeyDetail>
}

/** Events listed by /usage/{key_id}, most recent first. */
const RECENT_EVENTS = 100

/**
 * Adds /usage (every key of the policy in force) and /usage/{key_id} (one key with its
 * addresses and recent events, also for a key no longer in the policy). Both read what the
 * store has written, so they lag the requests by up to one flush interval.
 */
export function registerUsageRoutes (app: FastifyInstance, policies: PolicyStore, usage: UsageSource): void {
  app.get('/usage', async (request, reply) => {
    const stored = await readOr503(reply, request.url, usage.keys())
    if (stored === undefined) return reply
    const byId = new Map(stored.map((record) => [record.keyId, record]))
    return {
      keys: policies.current.keys.map((key) => {
        const record = byId.get(key.id)
        return record === undefined ? unusedKeyJson(key.id) : keyUsageJson(record)
      })
    }
  })

  app.get<{ Params: { keyId: string } }>('/usage/:keyId', async (request, reply) => {
    const { keyId } = request.params
    const detail = await readOr503(reply, request.url, usage.key(keyId, RECENT_EVENTS))
    if (detail === undefined) return reply
    if (detail.usage === undefined && !policies.current.keys.some((key) => key.id === keyId)) {
      return reply.code(404).send({ name: 'Not Found', message: `No key "${keyId}" in the policy or the usage records.`, url: request.url })
    }
    return keyDetailJson(keyId, detail)
  })
}

async function readOr503<T> (reply: FastifyReply, url: string, read: Promise<T>): Promise<T | undefined> {
  try {
    return await read
  } catch (err) {
    reply.log.error({ err_code: errorCode(err), err_message: (err as Error).message }, 'reading the usage database failed')
    void reply.code(503).send({ name: 'Usage records unavailable', message: `The usage database could not be read (${errorCode(err)}); the proxy log has the details.`, url })
    return undefined
  }
}
