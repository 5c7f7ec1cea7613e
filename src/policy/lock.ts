import { randomBytes } from 'node:crypto'
import { link, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { PolicyWriteError } from './write-error.js'

export interface LockOptions {
  /** Milliseconds to wait for another command's lock before giving up. */
  readonly waitMs?: number
}

/** Default wait for a lock: policy edits take milliseconds, so ten seconds means something is stuck. */
export const DEFAULT_LOCK_WAIT_MS = 10_000
/** A lock older than this is stale whatever its owner: no edit takes ten minutes. */
const MAX_LOCK_AGE_MS = 10 * 60_000
/** A lock file still empty after this long belongs to a process that died while creating it. */
const EMPTY_LOCK_GRACE_MS = 5_000
const FIRST_RETRY_MS = 10
const MAX_RETRY_MS = 200

interface LockOwner {
  readonly pid: number
  readonly host: string
  readonly token: string
  /** Milliseconds since the epoch. */
  readonly since: number
}

/**
 * Takes the lock of a policy file: `FILE.lock`, created with O_EXCL and holding the owner's
 * pid, host and a random token. A lock whose process is gone (same host), or that is
 * older than ten minutes, is stale and taken over. Returns the function that releases it.
 */
export async function lockPolicyFile (file: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const lockFile = `${file}.lock`
  const owner: LockOwner = { pid: process.pid, host: hostname(), token: randomBytes(12).toString('hex'), since: Date.now() }
  const deadline = Date.now() + (options.waitMs ?? DEFAULT_LOCK_WAIT_MS)
  let delay = FIRST_RETRY_MS

  while (!(await tryCreate(lockFile, owner))) {
    const holder = await readOwner(lockFile)
    if (holder !== 'gone' && await isStale(lockFile, holder)) await removeStale(lockFile, holder)
    else if (Date.now() >= deadline) throw lockedError(file, lockFile, holder)
    else await sleep(delay)
    delay = Math.min(delay * 2, MAX_RETRY_MS)
  }
  return async () => { await release(lockFile, owner.token) }
}

async function tryCreate (lockFile: string, owner: LockOwner): Promise<boolean> {
  let handle
  try {
    handle = await open(lockFile, 'wx', 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw new PolicyWriteError('write_failed', { file: lockFile }, `cannot create the lock file (${(error as NodeJS.ErrnoException).code ?? String(error)}). Give this user write permission on the policy file's directory`, { cause: error })
  }
  try {
    await handle.writeFile(JSON.stringify(owner) + '\n')
  } finally {
    await handle.close()
  }
  return true
}

/** Reads the lock's owner: undefined when the file is empty or unreadable, 'gone' when it no longer exists. */
async function readOwner (lockFile: string): Promise<LockOwner | undefined | 'gone'> {
  let text: string
  try {
    text = await readFile(lockFile, 'utf8')
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : undefined
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.token === 'string' && typeof parsed.since === 'number') return parsed as LockOwner
  } catch {}
  return undefined
}

async function isStale (lockFile: string, owner: LockOwner | undefined): Promise<boolean> {
  const age = await lockAge(lockFile)
  if (age === undefined) return false
  if (age > MAX_LOCK_AGE_MS) return true
  if (owner === undefined) return age > EMPTY_LOCK_GRACE_MS
  return owner.host === hostname() && !isProcessAlive(owner.pid)
}

async function lockAge (lockFile: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(lockFile)).mtimeMs
  } catch {
    return undefined
  }
}

function isProcessAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Moves a stale lock aside and deletes it. The rename is atomic, so of two processes that
 * found the same stale lock only one removes it.
 * NOTE: if a live lock replaced the stale one between the check and the rename, the live
 * one is moved aside and put back. Should a third process lock in that gap, two edits may
 * overlap once.
 */
async function removeStale (lockFile: string, owner: LockOwner | undefined): Promise<void> {
  const aside = `${lockFile}.stale-${randomBytes(6).toString('hex')}`
  try {
    await rename(lockFile, aside)
  } catch {
    return
  }
  const moved = await readOwner(aside)
  if (owner !== undefined && moved !== 'gone' && moved?.token !== owner.token) {
    // A live lock was moved: put it back unless a third process has locked meanwhile.
    await link(aside, lockFile).catch(() => {})
  }
  await unlink(aside).catch(() => {})
}

async function release (lockFile: string, token: string): Promise<void> {
  const owner = await readOwner(lockFile)
  if (owner === 'gone' || owner?.token !== token) return
  await unlink(lockFile).catch(() => {})
}

function lockedError (file: string, lockFile: string, holder: LockOwner | undefined | 'gone'): PolicyWriteError {
  const who = holder === undefined || holder === 'gone'
    ? 'another process'
    : `process ${holder.pid} on ${holder.host} since ${new Date(holder.since).toISOString()}`
  return new PolicyWriteError('locked', { file }, `is locked by ${who}. Wait for that command to finish and run this one again; if no misp-keygate command is running, delete ${lockFile}`)
}
