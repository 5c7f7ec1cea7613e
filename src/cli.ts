#!/usr/bin/env node
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { UsageError } from './config.js'
import { demoInstructions, demoListenAddresses, startDemo } from './commands/demo.js'
import { processIo } from './commands/command-io.js'
import { hashFromStdin } from './commands/hash.js'
import { runKeys } from './commands/keys.js'
import { runPolicyCheck } from './commands/policy-check.js'
import { INCIDENT_HELP, runIncident } from './commands/incident.js'
import { REVIEW_HELP, runReview } from './commands/review.js'
import { closeOnSignals, DEFAULT_POLICY, EXAMPLE_POLICY, resolveServeSettings, startProxy } from './commands/serve.js'
import { PolicyLoadError } from './policy/load.js'
import { PolicyWriteError } from './policy/write-error.js'
import { USAGE_HELP, USAGE_OPTIONS } from './usage/settings.js'

const USAGE = `Usage: misp-keygate COMMAND [options]

Commands:
  serve     Run the proxy in front of MISP.
              --policy FILE          policy file (KEYGATE_POLICY, default config/policy.yaml)
              --upstream URL         MISP's origin, e.g. https://misp.example.org (MISP_URL)
              --listen HOST:PORT     proxy address (KEYGATE_LISTEN, default [::]:8080, IPv4 and IPv6)
              --admin-listen HOST:PORT  metrics, health and usage (KEYGATE_ADMIN_LISTEN, default 127.0.0.1:9464)
              --trusted-proxy CIDR   a proxy whose X-Forwarded-For is read; repeatable
                                     (KEYGATE_TRUSTED_PROXIES, comma-separated; default none)
              --upstream-ca FILE     PEM CA bundle for MISP's certificate (KEYGATE_UPSTREAM_CA)
              --upstream-timeout SECONDS  time MISP may take to start answering, and between
                                     chunks of its answer (KEYGATE_UPSTREAM_TIMEOUT, default 300)
              --form-body-limit BYTES  largest URL-encoded form body read to check its fields;
                                     larger ones get 413 (KEYGATE_FORM_BODY_LIMIT, default 1048576)
              --client-timeout SECONDS  time a client may leave its request body or idle
                                     connection without data (KEYGATE_CLIENT_TIMEOUT, default 60)
              --forward-header NAME  a client request header to forward to MISP besides the
                                     built-in list; repeatable (KEYGATE_FORWARD_HEADERS, comma-separated)
${USAGE_HELP.trimEnd()}
  hash      Read one key on stdin and print its sha256: digest for the policy.
  keys      Change the policy file in place (comments kept, under a lock); every
            subcommand takes --policy FILE (KEYGATE_POLICY, default config/policy.yaml).
    keys create --id ID --owner TEXT --purpose TEXT --allow-ip CIDR... --upstream-key env:NAME|file:PATH
                [--ttl 30d | --expires TIME | --no-expiry] [--read-write] [--profile NAME] [--label NAME=VALUE]...
              Generate a key, add its digest, print the key once on stdout. Default: read-only, 30-day TTL.
    keys import --id ID ... (as create, without --upstream-key)
              Register an existing MISP key, read on stdin, for pass-through.
    keys rotate ID [--overlap 24h] [--new-id NEW] [--ttl 30d | --expires TIME | --no-expiry] [--force]
              Add a successor with the same settings (replaces: ID) and expire ID after the overlap.
              Refused when a key that is not revoked already replaces ID, unless --force.
    keys revoke ID --reason TEXT
              Mark the key revoked; the entry stays as a record.
    keys list [--format table|json]
              Id, owner, state, expiry, read-only, profile and addresses of every key.
  policy check [FILE] [--max-lifetime 90d] [--usage-db PATH] [--unused-days 30] [--strict] [--format text|json]
            Validate the policy (exit 2 on errors), then warn about hygiene (exit 1 with --strict).
${REVIEW_HELP.trimEnd()}
${INCIDENT_HELP.trimEnd()}
  demo      Run the proxy in front of a built-in MISP stand-in with three demo keys.
              --listen HOST:PORT (default 127.0.0.1:8080), --admin-listen HOST:PORT (default 127.0.0.1:9464)
  start     serve when MISP_URL is set, demo otherwise (what npm start runs).
  standin   Run the MISP stand-in alone; it accepts any well-formed key.
              --listen HOST:PORT (default 127.0.0.1:8081)
`

type Command = (args: string[]) => Promise<number>

const COMMANDS: Record<string, Command> = {
  serve: runServe,
  hash: runHash,
  demo: runDemo,
  start: runStart,
  standin: runStandin,
  keys: async (args) => await runKeys(args, processIo()),
  policy: runPolicy,
  review: async (args) => await runReview(args, processIo()),
  incident: async (args) => await runIncident(args, processIo()),
  help: async () => { process.stdout.write(USAGE); return 0 }
}

async function runServe (args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      policy: { type: 'string' },
      upstream: { type: 'string' },
      listen: { type: 'string' },
      'admin-listen': { type: 'string' },
      'trusted-proxy': { type: 'string', multiple: true },
      'upstream-ca': { type: 'string' },
      'upstream-timeout': { type: 'string' },
      'form-body-limit': { type: 'string' },
      'client-timeout': { type: 'string' },
      'forward-header': { type: 'string', multiple: true },
      ...USAGE_OPTIONS
    }
  })
  const running = await startProxy(await resolveServeSettings(values, process.env))
  closeOnSignals(running)
  return -1
}

/**
 * Runs the demo without MISP_URL; with it, serves in front of that MISP, using the example
 * policy while no policy of the operator's own exists yet.
 */
async function runStart (args: string[]): Promise<number> {
  if (process.env.MISP_URL === undefined || process.env.MISP_URL === '') return await runDemo(args)
  const ownPolicy = process.env.KEYGATE_POLICY ?? DEFAULT_POLICY
  if (!args.includes('--policy') && process.env.KEYGATE_POLICY === undefined && !existsSync(ownPolicy)) {
    process.stderr.write(`misp-keygate: ${ownPolicy} does not exist yet, so the proxy starts with ${EXAMPLE_POLICY} and its public example keys. Copy it to ${ownPolicy} and replace them.\n`)
    return await runServe(['--policy', EXAMPLE_POLICY, ...args])
  }
  return await runServe(args)
}

async function runPolicy (args: string[]): Promise<number> {
  const [name, ...rest] = args
  if (name !== 'check') throw new UsageError(`Unknown subcommand "policy ${name ?? ''}". Use: misp-keygate policy check [FILE]`)
  return await runPolicyCheck(rest, processIo())
}

async function runHash (args: string[]): Promise<number> {
  parseArgs({ args, options: {} })
  process.stdout.write(await hashFromStdin(process.stdin) + '\n')
  return 0
}

async function runDemo (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { listen: { type: 'string' }, 'admin-listen': { type: 'string' } } })
  const [listen, adminListen] = demoListenAddresses(values.listen, values['admin-listen'])
  const demo = await startDemo(listen, adminListen)
  process.stdout.write(demoInstructions(demo))
  closeOnSignals({ ...demo.running, close: demo.close })
  return -1
}

async function runStandin (args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { listen: { type: 'string' } } })
  const { parseListenAddress } = await import('./config.js')
  const { MispStandin } = await import('./standin/server.js')
  const address = parseListenAddress(values.listen ?? '127.0.0.1:8081', '--listen')
  const standin = new MispStandin({})
  const url = await standin.listen(address.host, address.port)
  process.stdout.write(`MISP stand-in listening on ${url.origin}; it accepts any 40-character key. Ctrl-C stops it.\n`)
  return -1
}

/** Runs the command; -1 means it keeps running until a signal. */
async function main (argv: string[]): Promise<void> {
  const [name, ...args] = argv
  const command = name === undefined || name === '--help' || name === '-h' ? COMMANDS.help : COMMANDS[name]
  if (command === undefined) throw new UsageError(`Unknown command "${name}". Run misp-keygate help for the list.`)
  const status = await command(args)
  if (status >= 0) process.exitCode = status
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || err instanceof PolicyLoadError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
    process.stderr.write(`misp-keygate: ${(err as Error).message}\n`)
    process.exitCode = 2
    return
  }
  if (err instanceof PolicyWriteError) {
    process.stderr.write(`misp-keygate: ${err.message}\n`)
    process.exitCode = 1
    return
  }
  process.stderr.write(`misp-keygate: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
