import { realpath, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { request } from 'undici'
import { PolicyWriteError, revokeKey } from '../policy/writer.js'

/** How long `incident --revoke` waits for the proxy's file watch before it sends POST /reload. */
const WATCH_WAIT_MS = 3_000
const POLL_MS = 100
const ADMIN_TIMEOUT_MS = 2_000

/** Whether the running proxy applies the policy file as written. */
export type ProxyReload =
  | { readonly state: 'reloaded', readonly generation: number, readonly loadedAt: number, readonly via: 'watch' | 'reload request' }
  | { readonly state: 'pending', readonly detail: string }
  | { readonly state: 'failed', readonly detail: string }

export interface Revocation {
  /** 'already' when the file had revoked the key before; the first revocation is kept. */
  readonly status: 'revoked' | 'already'
  readonly file: string
  readonly proxy: ProxyReload
}

interface Readiness {
  readonly file: string
  readonly generation: number
  readonly loadedAt: number | undefined
  readonly stale: boolean
  readonly error: string | undefined
  readonly failedAt: number | undefined
}

/**
 * Marks the key revoked in the policy file through the policy writer (lock, atomic write,
 * comments kept). Then reads the admin listener's /readyz to find out whether the running
 * proxy has loaded the new file: it waits for the file watch, then sends POST /reload once.
 */
export async function revokeAndConfirm (file: string, keyId: string, reason: string, now: number, adminUrl: string, env: NodeJS.ProcessEnv): Promise<Revocation> {
  let status: Revocation['status'] = 'revoked'
  try {
    await revokeKey(file, keyId, reason, now, { env })
  } catch (err) {
    if (!(err instanceof PolicyWriteError) || err.code !== 'already_revoked') throw err
    status = 'already'
  }
  const writtenAt = Math.floor((await stat(file)).mtimeMs)
  return { status, file, proxy: await confirmReload(adminUrl, file, writtenAt) }
}

/** Waits until the proxy at `adminUrl` has loaded `file` as written at `writtenAt`, then requests a reload. */
export async function confirmReload (adminUrl: string, file: string, writtenAt: number): Promise<ProxyReload> {
  const deadline = Date.now() + WATCH_WAIT_MS
  for (;;) {
    const ready = await readiness(adminUrl)
    if (typeof ready === 'string') return { state: 'pending', detail: ready }
    if (!await isSameFile(ready.file, file)) {
      return { state: 'pending', detail: `the proxy at ${adminUrl} serves ${ready.file}, not ${resolve(file)}` }
    }
    const outcome = compare(ready, writtenAt)
    if (outcome !== undefined) return outcome
    if (Date.now() >= deadline) return await requestReload(adminUrl)
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}

/**
 * Compares the file /readyz names, an absolute path, with the command's file. Most
 * deployments call the file policy.yaml, so the names alone match another proxy's file.
 */
async function isSameFile (served: string, file: string): Promise<boolean> {
  if (served === '') return false
  if (served === resolve(file)) return true
  const [left, right] = await Promise.all([realpath(served).catch(() => served), realpath(file).catch(() => resolve(file))])
  return left === right
}

function compare (ready: Readiness, writtenAt: number): ProxyReload | undefined {
  if (ready.stale && ready.failedAt !== undefined && ready.failedAt >= writtenAt) {
    return { state: 'failed', detail: `the proxy could not load the new file and still serves the previous policy: ${ready.error ?? 'no error given'}` }
  }
  if (!ready.stale && ready.loadedAt !== undefined && ready.loadedAt >= writtenAt) {
    return { state: 'reloaded', generation: ready.generation, loadedAt: ready.loadedAt, via: 'watch' }
  }
  return undefined
}

async function requestReload (adminUrl: string): Promise<ProxyReload> {
  try {
    const response = await request(`${adminUrl}/reload`, { method: 'POST', headersTimeout: ADMIN_TIMEOUT_MS, bodyTimeout: ADMIN_TIMEOUT_MS })
    const body = await response.body.json() as { generation?: number, error?: string }
    if (response.statusCode === 200) return { state: 'reloaded', generation: body.generation ?? 0, loadedAt: Date.now(), via: 'reload request' }
    if (response.statusCode === 404) return { state: 'pending', detail: `the proxy at ${adminUrl} did not reload within ${WATCH_WAIT_MS / 1000} s and has no POST /reload; send it SIGHUP` }
    return { state: 'failed', detail: `POST ${adminUrl}/reload answered ${response.statusCode}: ${body.error ?? 'no error given'}` }
  } catch (err) {
    return { state: 'pending', detail: `POST ${adminUrl}/reload failed (${(err as Error).message}); send the proxy SIGHUP` }
  }
}

/** Reads /readyz; returns the reason as a sentence when no admin listener responds. */
async function readiness (adminUrl: string): Promise<Readiness | string> {
  let body: { policy?: { file?: string, generation?: number, loaded_at?: string, stale?: boolean, error?: string, failed_at?: string } }
  try {
    const response = await request(`${adminUrl}/readyz`, { headersTimeout: ADMIN_TIMEOUT_MS, bodyTimeout: ADMIN_TIMEOUT_MS })
    body = await response.body.json() as typeof body
  } catch (err) {
    return `no admin listener responded at ${adminUrl} (${(err as Error).message}); the proxy reloads the file itself when it runs, or send it SIGHUP`
  }
  const policy = body.policy ?? {}
  return {
    file: policy.file ?? '',
    generation: policy.generation ?? 0,
    loadedAt: policy.loaded_at === undefined ? undefined : Date.parse(policy.loaded_at),
    stale: policy.stale === true,
    error: policy.error,
    failedAt: policy.failed_at === undefined ? undefined : Date.parse(policy.failed_at)
  }
}
