// Measures loading a generated 100,000-key policy. It times YAML parsing with js-yaml,
// which the loader uses, and with the yaml package for comparison, then validation.
// Run: TS_NODE_TRANSPILE_ONLY=1 node --import=@tapjs/typescript/import bench/policy-load.ts [key count]
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { load } from 'js-yaml'
import YAML from 'yaml'
import { loadPolicy, validatePolicy } from '../src/policy/load.js'

const KEY_COUNT = Number(process.argv[2] ?? 100_000)
/** One key in this many reads its upstream key from its own file, the others from one variable. */
const FILE_KEY_INTERVAL = 100
const ROUNDS = 3
const NOW = Date.parse('2026-12-10T00:00:00Z')
const ENV = { MISP_KEY_SHARED: 'BenchUpstreamKey000000000000000000000000' }

function keyLines (index: number): string[] {
  const hash = createHash('sha256').update(`bench-key-${index}`).digest('hex')
  const upstream = index % FILE_KEY_INTERVAL === 0 ? `file:keys/key-${index}.key` : 'env:MISP_KEY_SHARED'
  return [
    `  - id: key-${index}`,
    `    owner: team-${index % 50}@example.org`,
    `    purpose: Integration number ${index}`,
    `    hash: sha256:${hash}`,
    `    allowed_ips: [198.51.${(index >> 8) & 255}.${index & 255}, 10.${index % 200}.0.0/16, "2001:db8:${(index % 65535).toString(16)}::/48"]`,
    '    expires: 2027-01-31T00:00:00Z',
    '    not_before: 2026-01-01T00:00:00+01:00',
    `    read_only: ${index % 2 === 0 ? 'true' : 'false'}`,
    `    upstream_key: ${upstream}`,
    `    labels: { account: svc-${index} }`
  ]
}

async function writePolicy (directory: string): Promise<string> {
  await mkdir(join(directory, 'keys'))
  const lines = ['version: 1', 'keys:']
  for (let index = 0; index < KEY_COUNT; index++) {
    lines.push(...keyLines(index))
    if (index % FILE_KEY_INTERVAL === 0) await writeFile(join(directory, 'keys', `key-${index}.key`), `BenchFileKey${String(index).padStart(28, '0')}\n`)
  }
  const file = join(directory, 'policy.yaml')
  await writeFile(file, lines.join('\n') + '\n')
  return file
}

async function time<T> (work: () => Promise<T> | T): Promise<[T, number]> {
  const start = performance.now()
  const result = await work()
  return [result, performance.now() - start]
}

function formatRounds (label: string, milliseconds: number[]): string {
  return `${label.padEnd(34)} ${milliseconds.map((value) => `${value.toFixed(0).padStart(6)} ms`).join(' ')}   (min ${Math.min(...milliseconds).toFixed(0)} ms)`
}

async function main (): Promise<void> {
  console.log(`machine: ${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`)
  const directory = await mkdtemp(join(tmpdir(), 'keygate-bench-'))
  try {
    const file = await writePolicy(directory)
    const text = await readFile(file, 'utf8')
    console.log(`policy: ${KEY_COUNT} keys, ${(text.length / 2 ** 20).toFixed(1)} MiB, ${Math.ceil(KEY_COUNT / FILE_KEY_INTERVAL)} upstream key files`)

    const rows: Record<string, number[]> = { 'parse, js-yaml (CORE_SCHEMA)': [], 'parse, yaml (core, uniqueKeys)': [], 'validate (after js-yaml)': [], 'loadPolicy (read+parse+validate)': [] }
    for (let round = 0; round < ROUNDS; round++) {
      const [document, jsYamlTime] = await time(() => load(text))
      rows['parse, js-yaml (CORE_SCHEMA)']?.push(jsYamlTime)
      rows['parse, yaml (core, uniqueKeys)']?.push((await time(() => YAML.parse(text, { schema: 'core', uniqueKeys: true })))[1])
      rows['validate (after js-yaml)']?.push((await time(async () => await validatePolicy(document, file, { now: NOW, env: ENV })))[1])
      const [policy, loadTime] = await time(async () => await loadPolicy(file, { now: NOW, env: ENV }))
      rows['loadPolicy (read+parse+validate)']?.push(loadTime)
      if (policy.keys.length !== KEY_COUNT) throw new Error(`loaded ${policy.keys.length} keys, expected ${KEY_COUNT}`)
    }
    for (const [label, milliseconds] of Object.entries(rows)) console.log(formatRounds(label, milliseconds))
    console.log(`heap used after the runs: ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`)
  } finally {
    await rm(directory, { recursive: true, force: true })
  }
}

await main()
