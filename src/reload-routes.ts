import type { FastifyInstance } from 'fastify'
import type { PolicyReloader, ReloadState } from './reload.js'

/** Problems listed in a 422 response; `problem_count` counts them all. */
const MAX_RESPONSE_PROBLEMS = 100

/**
 * Adds `POST /reload` to the admin listener. It reloads the policy file now and responds
 * 200 with the changes, or 422 with the first problems when the file does not load, in
 * which case the policy in force stays except for its revocations and removals.
 */
export function registerReloadRoute (app: FastifyInstance, reloader: Pick<PolicyReloader, 'reload'>): void {
  app.post('/reload', async (_request, reply) => {
    const result = await reloader.reload('admin')
    if (result.status === 'applied') return { status: 'applied', generation: result.generation, ...result.changes }
    return reply.code(422).send({
      status: 'rejected',
      generation: result.generation,
      error: result.error,
      problems: result.problems.slice(0, MAX_RESPONSE_PROBLEMS).map((problem) => problem.message),
      problem_count: result.problemCount,
      ...(result.tightened === undefined ? {} : { tightened: result.tightened })
    })
  })
}

/** Returns the reload fields of /readyz, which say whether the policy in force is older than a file that failed to load. */
export function reloadStateJson (state: ReloadState): Record<string, unknown> {
  return {
    loaded_at: new Date(state.loadedAt).toISOString(),
    stale: state.stale,
    ...(state.stale ? { error: state.error, failed_at: new Date(state.failedAt ?? 0).toISOString() } : {})
  }
}
