import { parseArgs } from 'node:util'
import { UsageError } from '../config.js'
import { digestKey } from '../digest.js'
import { generateMispKey } from '../keygen.js'
import { addKey, formatTimestamp, revokeKey, type NewKey } from '../policy/writer.js'
import { policyPath, type CommandIo } from './command-io.js'
import { hashFromStdin } from './hash.js'
import { listKeys } from './key-list.js'
import { describeExpiry, NEW_KEY_OPTIONS, onePositional, readAllowedIps, readExpiry, readKeyId, readLabels, readUpstreamKey, requireFlag } from './key-options.js'
import { rotateKey } from './key-rotate.js'
import { warnUnsetVariables } from './unset-variables.js'

type NewKeyFlags = ReturnType<typeof parseNewKeyArgs>

const SUBCOMMANDS: Record<string, (args: string[], io: CommandIo) => Promise<number>> = {
  create: createKey,
  import: importKey,
  rotate: rotateKey,
  revoke: revoke,
  list: listKeys
}

/** Runs `keys SUBCOMMAND`. Returns the exit status. */
export async function runKeys (args: string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = args
  const subcommand = name === undefined ? undefined : SUBCOMMANDS[name]
  if (subcommand === undefined) {
    throw new UsageError(`${name === undefined ? 'A subcommand is missing' : `Unknown subcommand "keys ${name}"`}. Use one of: keys ${Object.keys(SUBCOMMANDS).join(', keys ')}. Run misp-keygate help for their options`)
  }
  return await subcommand(rest, io)
}

function parseNewKeyArgs (args: string[]): ReturnType<typeof parseArgs<{ args: string[], options: typeof NEW_KEY_OPTIONS }>>['values'] {
  return parseArgs({ args, options: NEW_KEY_OPTIONS }).values
}

/** Generates a key, adds its digest to the policy and prints the key, once, alone on stdout. */
async function createKey (args: string[], io: CommandIo): Promise<number> {
  const flags = parseNewKeyArgs(args)
  const now = io.now()
  const upstreamKey = readUpstreamKey(flags['upstream-key'])
  const key = generateMispKey()
  const entry = newKeyFromFlags(flags, now, digestKey(key), upstreamKey)
  const file = policyPath(flags.policy, io.env)

  const policy = await addKey(file, entry, { now, env: io.env })
  io.stdout.write(key + '\n')
  io.stderr.write(`Added key "${entry.id}" to ${file}, ${describeExpiry(entry.expires)}, swap mode (${upstreamKey}).\n` +
    'The key was printed once on stdout. Store it now: misp-keygate keeps only its digest.\n')
  warnUnsetVariables(policy, io)
  return 0
}

/** Registers an existing MISP key, read on stdin, for pass-through. Prints nothing on stdout. */
async function importKey (args: string[], io: CommandIo): Promise<number> {
  const flags = parseNewKeyArgs(args)
  if (flags['upstream-key'] !== undefined) {
    throw new UsageError('keys import registers a key that MISP already knows, which the proxy passes through, so it takes no --upstream-key. Use keys create for a key the proxy swaps for an upstream key')
  }
  const now = io.now()
  const entry = newKeyFromFlags(flags, now, 'pending', undefined)
  const hash = await hashFromStdin(io.stdin as NodeJS.ReadStream)
  const file = policyPath(flags.policy, io.env)

  const policy = await addKey(file, { ...entry, hash }, { now, env: io.env })
  io.stderr.write(`Added key "${entry.id}" to ${file}, ${describeExpiry(entry.expires)}, pass-through: MISP receives the client's own key.\n`)
  warnUnsetVariables(policy, io)
  return 0
}

/** Marks a key revoked with the time and reason; the entry stays in the file as a record. */
async function revoke (args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { policy: { type: 'string' }, reason: { type: 'string' } } })
  const id = readKeyId(onePositional(positionals, 'keys revoke ID --reason TEXT'), 'ID')
  const reason = requireFlag(values.reason, '--reason', '"leaked in a CI log"')
  const file = policyPath(values.policy, io.env)
  const now = io.now()

  const policy = await revokeKey(file, id, reason, now, { env: io.env })
  io.stderr.write(`Revoked key "${id}" in ${file} at ${formatTimestamp(now)}. A running proxy refuses it once it has reloaded the file.\n`)
  warnUnsetVariables(policy, io)
  return 0
}

function newKeyFromFlags (flags: NewKeyFlags, now: number, hash: string, upstreamKey: string | undefined): NewKey {
  return {
    id: readKeyId(flags.id, '--id'),
    owner: requireFlag(flags.owner, '--owner', 'soc@example.org'),
    purpose: requireFlag(flags.purpose, '--purpose', '"Hourly indicator pull"'),
    hash,
    allowedIps: readAllowedIps(flags['allow-ip']),
    expires: readExpiry(flags, now),
    readOnly: flags['read-write'] !== true,
    profile: flags.profile,
    upstreamKey,
    labels: readLabels(flags.label)
  }
}
