// Worker thread entry: loads a policy file off the main thread and posts it back in
// chunks, one at a time, so the main thread can rebuild it between requests. Started by
// loadInWorker.
import { parentPort, workerData } from 'node:worker_threads'
import { loadPolicy, PolicyLoadError } from './load.js'
import { encodeForTransfer } from './transfer.js'
import type { WorkerInput, WorkerMessage } from './load-protocol.js'

const input = workerData as WorkerInput
const port = parentPort
if (port === null) throw new Error('load-worker.js runs only as a worker thread')

function post (message: WorkerMessage): void {
  port?.postMessage(message)
}

/**
 * Waits until the main thread has rebuilt the last message. Node decodes every queued
 * message in one turn of the receiving event loop, so sending ahead would stall it.
 */
async function acknowledged (): Promise<void> {
  await new Promise((resolve) => port?.once('message', resolve))
}

try {
  const policy = await loadPolicy(input.file, { now: input.now, env: input.env })
  const { keys, byDigest, profiles, ...rest } = policy
  // Compiled profile rules hold functions, so profiles travel as their rule texts.
  const profileTexts = [...profiles.values()].map((profile) => ({ name: profile.name, builtIn: profile.builtIn, rules: profile.rules.map((rule) => rule.text) }))
  post({ type: 'header', rest: encodeForTransfer(rest), profiles: profileTexts, keyCount: keys.length, digestCount: byDigest.size })
  for (let start = 0; start < keys.length; start += input.chunkSize) {
    await acknowledged()
    post({ type: 'keys', keys: keys.slice(start, start + input.chunkSize).map((key, index) => encodeForTransfer(key, `keys[${start + index}]`)) })
  }
  await acknowledged()
  post({ type: 'done' })
} catch (error) {
  if (error instanceof PolicyLoadError) post({ type: 'rejected', message: error.message, problems: [...error.problems], problemCount: error.problemCount })
  else post({ type: 'failed', message: error instanceof Error ? error.stack ?? error.message : String(error) })
}
