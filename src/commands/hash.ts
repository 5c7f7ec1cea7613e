import { digestKey } from '../digest.js'
import { UsageError } from '../config.js'

const MISP_KEY = /^[A-Za-z0-9]{40}$/

/**
 * Reads one key from stdin and returns its policy digest. A single trailing newline is
 * dropped. Anything else that is not a MISP key is an error, so a paste with stray
 * spaces never produces a digest that matches nothing.
 */
export async function hashFromStdin (stdin: NodeJS.ReadStream): Promise<string> {
  const text = stdin.isTTY ? await readHidden(stdin) : await readAll(stdin)
  const key = text.replace(/\r?\n$/, '')
  if (!MISP_KEY.test(key)) {
    throw new UsageError(`stdin did not hold one MISP API key (40 letters and digits, then at most one newline; got ${key.length} characters). Pipe the key alone, for example from your secret store.`)
  }
  return digestKey(key)
}

async function readAll (stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** Reads one line from a terminal without echoing it. */
async function readHidden (stdin: NodeJS.ReadStream): Promise<string> {
  process.stderr.write('API key (not shown): ')
  stdin.setRawMode(true)
  let line = ''
  try {
    for await (const chunk of stdin) {
      for (const char of (chunk as Buffer).toString('utf8')) {
        if (char === '\r' || char === '\n') return line
        if (char === '\u0003') throw new UsageError('cancelled')
        line = char === '\u007f' ? line.slice(0, -1) : line + char
      }
    }
    return line
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
    process.stderr.write('\n')
  }
}
