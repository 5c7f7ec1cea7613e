import type { Batch } from './batch.js'
import type { AddressRecord, EventRecord, KeyUsageRecord } from './records.js'
import type { FlushResult } from './write.js'

// Messages between the proxy's thread and the usage writer thread.

export interface WriterConfig {
  readonly path: string
  /** Events, hourly counts and addresses older than this are pruned. */
  readonly retentionMs: number
  readonly pruneIntervalMs: number
}

export interface KeyDetail {
  readonly usage: KeyUsageRecord | undefined
  readonly addresses: AddressRecord[]
  /** Most recent first. */
  readonly events: EventRecord[]
}

export type WriterRequest =
  | { readonly id: number, readonly type: 'flush', readonly batch: Batch }
  | { readonly id: number, readonly type: 'keys' }
  | { readonly id: number, readonly type: 'key', readonly keyId: string, readonly eventLimit: number }
  | { readonly id: number, readonly type: 'prune', readonly now: number }
  | { readonly id: number, readonly type: 'close' }

export interface WriterResults {
  flush: FlushResult & { readonly reopened: boolean }
  keys: KeyUsageRecord[]
  key: KeyDetail
  prune: number
  close: undefined
}

export type WriterResponse =
  | { readonly type: 'ready', readonly keys: KeyUsageRecord[] }
  | { readonly type: 'failed', readonly code: string, readonly message: string }
  | { readonly type: 'pruned', readonly deleted: number }
  | { readonly type: 'prune_failed', readonly code: string, readonly message: string }
  | { readonly type: 'result', readonly id: number, readonly result: unknown }
  | { readonly type: 'error', readonly id: number, readonly code: string, readonly message: string }
