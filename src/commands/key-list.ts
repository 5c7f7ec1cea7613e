import { parseArgs } from 'node:util'
import { UsageError } from '../config.js'
import { keyState } from '../policy/key-state.js'
import { loadPolicy } from '../policy/load.js'
import { withPlaceholderEnv } from '../policy/placeholder-env.js'
import type { KeyEntry } from '../policy/types.js'
import { formatTimestamp } from '../policy/writer.js'
import { policyPath, type CommandIo } from './command-io.js'

const COLUMNS = ['ID', 'OWNER', 'STATE', 'EXPIRES', 'READ-ONLY', 'PROFILE', 'ADDRESSES'] as const

/** Runs `keys list [--format table|json]`: one row per key of the policy. */
export async function listKeys (args: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({ args, options: { policy: { type: 'string' }, format: { type: 'string' } } })
  const format = values.format ?? 'table'
  if (format !== 'table' && format !== 'json') throw new UsageError(`--format "${format}" is not supported. Use --format table or --format json`)
  const now = io.now()
  // Variables of env: upstream keys are the proxy's, so they need not be set here.
  const policy = await loadPolicy(policyPath(values.policy, io.env), { now, env: withPlaceholderEnv(io.env) })

  io.stdout.write(format === 'json' ? JSON.stringify(policy.keys.map((key) => keyJson(key, now)), null, 2) + '\n' : keyTable(policy.keys, now))
  return 0
}

function keyJson (key: KeyEntry, now: number): Record<string, unknown> {
  return {
    id: key.id,
    owner: key.owner,
    state: keyState(key, now),
    expires: key.expires === undefined ? null : formatTimestamp(key.expires),
    not_before: key.notBefore === undefined ? null : formatTimestamp(key.notBefore),
    read_only: key.readOnly,
    profile: key.profile ?? null,
    allowed_ips: key.allowedIps.entries,
    mode: key.upstreamKey === undefined ? 'pass-through' : 'swap',
    replaces: key.replaces ?? null,
    revoked: key.revoked === undefined ? null : { at: formatTimestamp(key.revoked.at), reason: key.revoked.reason }
  }
}

function keyTable (keys: readonly KeyEntry[], now: number): string {
  const rows = keys.map((key) => [
    key.id,
    key.owner,
    keyState(key, now),
    key.expires === undefined ? '-' : formatTimestamp(key.expires),
    key.readOnly ? 'yes' : 'no',
    key.profile ?? '-',
    key.allowedIps.entries.join(',')
  ])
  return formatTable([[...COLUMNS], ...rows])
}

/** Aligns rows into columns two spaces apart; the last column is not padded. */
export function formatTable (rows: ReadonlyArray<readonly string[]>): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? []
  const lines = rows.map((row) => row.map((cell, column) => column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)).join('  '))
  return lines.join('\n') + '\n'
}
