import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { runKeys } from '../src/commands/keys.js'
import { loadPolicy } from '../src/policy/load.js'
import { parseIpAddress } from '../src/net/address.js'
import { runCommand } from './helpers/command.js'

const NOW = Date.parse('2026-12-04T12:00:00Z')
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

/** Returns the README's key lifecycle section, up to the next heading of its level. */
function lifecycleSection (): string {
  const start = README.indexOf('\n## Key lifecycle\n')
  return README.slice(start, README.indexOf('\n## ', start + 1))
}

/** Returns the arguments of the walkthrough's `keys create` command, joined across its continuation lines. */
function createArguments (section: string): string[] {
  const command = /node dist\/cli\.js (keys create [^\n\\]*(?:\\\n[^\n\\]*)*)/.exec(section)?.[1] ?? ''
  const words = command.replace(/\\\n/g, ' ').replace(/ > \S+$/, '').match(/"[^"]*"|\S+/g) ?? []
  return words.slice(1).map((word) => word.replace(/^"|"$/g, ''))
}

t.test('README walkthrough: step 1 runs locally', async (t) => {
  const section = lifecycleSection()
  t.match(section, /`version: 1` and `keys: \[\]`/, 'says how to create the policy file first')
  t.match(section, /needs a proxy restart/, 'says a new env: variable needs a restart')
  const file = join(t.testdir({ 'policy.yaml': 'version: 1\nkeys: []\n' }), 'policy.yaml')
  const run = await runCommand(runKeys, [...createArguments(section), '--policy', file], { now: NOW })
  t.equal(run.status, 0, 'step 1 works on the file the README describes')
  const policy = await loadPolicy(file, { now: NOW, env: { MISP_KEY_SIEM: 'k'.repeat(40) } })
  const loopback = parseIpAddress('127.0.0.1')
  t.ok(loopback !== undefined && policy.keys[0]?.allowedIps.has(loopback), 'the key is allowed from 127.0.0.1, where step 2 runs')
  t.match(section, /http:\/\/127\.0\.0\.1:8080\/servers\/getVersion/, 'step 2 sends to the local proxy')
})
