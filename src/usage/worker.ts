// The usage writer thread: owns the writable SQLite connection, so no database call ever
// runs on the proxy's event loop. Started by UsageWriter with a WriterConfig as workerData.
import { resolve } from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import type { Database } from 'better-sqlite3'
import { fileIdentity, IN_MEMORY, openWritable, type FileIdentity } from './database.js'
import { errorCode } from './errors.js'
import type { WriterConfig, WriterRequest, WriterResponse } from './protocol.js'
import { pruneBefore } from './prune.js'
import { UsageQueries } from './queries.js'
import { BatchWriter } from './write.js'

interface Connection {
  readonly db: Database
  /** Undefined for an in-memory database. */
  readonly file: FileIdentity | undefined
  readonly writer: BatchWriter
  readonly queries: UsageQueries
}

const config = workerData as WriterConfig
const port = parentPort!
const path = config.path === IN_MEMORY ? IN_MEMORY : resolve(config.path)
let connection: Connection | undefined
/** Set when the opened file disappeared, until a new file is open. */
let fileLost = false

function post (message: WriterResponse): void {
  port.postMessage(message)
}

function open (createDirectory: boolean): Connection {
  const { db, file } = openWritable(path, Date.now(), createDirectory)
  return { db, file, writer: new BatchWriter(db), queries: new UsageQueries(db) }
}

/**
 * Returns the open connection, or opens the file again when it was deleted or replaced
 * since: SQLite would otherwise keep writing into the unlinked file. The directory is not
 * created again, because a missing directory is more likely an unmounted volume.
 */
function current (): { connection: Connection, reopened: boolean } {
  if (connection !== undefined && isSameFile(connection.file, fileIdentity(path))) return { connection, reopened: false }
  if (connection !== undefined) fileLost = true
  connection?.db.close()
  connection = undefined
  connection = open(false)
  const reopened = fileLost
  fileLost = false
  return { connection, reopened }
}

function isSameFile (opened: FileIdentity | undefined, now: FileIdentity | undefined): boolean {
  if (path === IN_MEMORY) return true
  return opened !== undefined && now !== undefined && opened.dev === now.dev && opened.ino === now.ino
}

function handle (request: WriterRequest): unknown {
  switch (request.type) {
    case 'flush': {
      const { connection, reopened } = current()
      return { ...connection.writer.write(request.batch), reopened }
    }
    case 'keys':
      return current().connection.queries.allKeys()
    case 'key': {
      const { queries } = current().connection
      return { usage: queries.key(request.keyId), addresses: queries.addresses(request.keyId), events: queries.events({ keyId: request.keyId, newestFirst: true, limit: request.eventLimit }) }
    }
    case 'prune':
      return pruneBefore(current().connection.db, request.now - config.retentionMs)
    case 'close':
      connection?.db.close()
      connection = undefined
      return undefined
  }
}

function prunePeriodically (): void {
  try {
    post({ type: 'pruned', deleted: pruneBefore(current().connection.db, Date.now() - config.retentionMs) })
  } catch (err) {
    post({ type: 'prune_failed', code: errorCode(err), message: (err as Error).message })
  }
}

port.on('message', (request: WriterRequest) => {
  try {
    post({ type: 'result', id: request.id, result: handle(request) })
  } catch (err) {
    post({ type: 'error', id: request.id, code: errorCode(err), message: (err as Error).message })
  }
})

try {
  connection = open(true)
  post({ type: 'ready', keys: connection.queries.allKeys() })
  setInterval(prunePeriodically, config.pruneIntervalMs).unref()
  setImmediate(prunePeriodically)
} catch (err) {
  post({ type: 'failed', code: errorCode(err), message: (err as Error).message })
}
