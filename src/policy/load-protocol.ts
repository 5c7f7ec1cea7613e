import type { PolicyProblem } from './problems.js'
import type { Transferable } from './transfer.js'

/** The worker thread's input from loadInWorker. */
export interface WorkerInput {
  readonly file: string
  readonly now: number
  readonly env: NodeJS.ProcessEnv
  /** Keys per message: the main thread rebuilds one message between two turns of its event loop. */
  readonly chunkSize: number
}

/** A profile as its rule texts, compiled again on arrival. */
export interface ProfileText {
  readonly name: string
  readonly builtIn: boolean
  readonly rules: readonly string[]
}

/** Messages from the worker, in order: header, keys (repeated), done; or one of rejected and failed. */
export type WorkerMessage =
  | { readonly type: 'header', readonly rest: Transferable, readonly profiles: ProfileText[], readonly keyCount: number, readonly digestCount: number }
  | { readonly type: 'keys', readonly keys: Transferable[] }
  | { readonly type: 'done' }
  | { readonly type: 'rejected', readonly message: string, readonly problems: PolicyProblem[], readonly problemCount: number }
  | { readonly type: 'failed', readonly message: string }
