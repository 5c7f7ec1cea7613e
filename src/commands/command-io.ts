import type { Readable, Writable } from 'node:stream'
import { DEFAULT_POLICY } from './serve.js'

/** The streams, environment and clock of a command, passed in so tests can run it in-process. */
export interface CommandIo {
  readonly stdin: Readable
  readonly stdout: Writable
  readonly stderr: Writable
  readonly env: NodeJS.ProcessEnv
  /** Milliseconds since the epoch. */
  readonly now: () => number
}

export function processIo (): CommandIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, now: Date.now }
}

/** Returns the policy file: the --policy flag, then KEYGATE_POLICY, then the default that serve uses. */
export function policyPath (flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? (env.KEYGATE_POLICY === undefined || env.KEYGATE_POLICY === '' ? DEFAULT_POLICY : env.KEYGATE_POLICY)
}
