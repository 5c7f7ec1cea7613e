import type { Database } from 'better-sqlite3'
import { UsageDbError } from './errors.js'

// Every time is milliseconds since the epoch, UTC. Migration N brings the database from
// user_version N to N + 1; a released migration is never edited, only followed by another.
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;

  -- One row per key ever presented. first_used and last_used count every request with the
  -- key, denied ones included; last_allowed and last_write only forwarded ones.
  CREATE TABLE key_usage (
    key_id TEXT PRIMARY KEY,
    first_used INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    last_allowed INTEGER,
    last_write INTEGER,
    allowed INTEGER NOT NULL,
    denied INTEGER NOT NULL,
    errors INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE key_addresses (
    key_id TEXT NOT NULL,
    address TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    allowed INTEGER NOT NULL,
    denied INTEGER NOT NULL,
    PRIMARY KEY (key_id, address)
  ) STRICT, WITHOUT ROWID;

  -- Requests per key, hour, address, route and outcome: what an incident report counts.
  -- address and route are '' when the proxy could not decide them.
  CREATE TABLE hourly (
    key_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    address TEXT NOT NULL,
    route TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (key_id, hour, address, route, outcome)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX hourly_hour ON hourly (hour);

  -- Denials without a known key (missing, unknown, malformed) per hour, address and reason.
  CREATE TABLE keyless_hourly (
    hour INTEGER NOT NULL,
    address TEXT NOT NULL,
    reason TEXT NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (hour, address, reason)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    type TEXT NOT NULL,
    key_id TEXT NOT NULL,
    address TEXT,
    method TEXT,
    route TEXT,
    status INTEGER,
    request_id TEXT,
    outcome TEXT,
    reason TEXT,
    category TEXT
  ) STRICT;
  CREATE INDEX events_key_time ON events (key_id, time);
  CREATE INDEX events_time ON events (time);
  CREATE UNIQUE INDEX events_revocation ON events (key_id, time) WHERE type = 'revocation';
  `
]

export const SCHEMA_VERSION = MIGRATIONS.length

/** Applies the migrations the database lacks, each in its own transaction. */
export function migrate (db: Database, path: string, now: number): void {
  const version = schemaVersion(db)
  if (version > SCHEMA_VERSION) {
    throw new UsageDbError('schema_too_new',
      `The usage database "${path}" has schema version ${version}, newer than version ${SCHEMA_VERSION} that this misp-keygate knows. Upgrade misp-keygate or use another --usage-db.`)
  }
  for (let next = version; next < SCHEMA_VERSION; next++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[next] as string)
      if (next === 0) db.prepare("INSERT INTO meta (name, value) VALUES ('created_at', ?)").run(String(now))
      db.pragma(`user_version = ${next + 1}`)
    })()
  }
}

export function schemaVersion (db: Database): number {
  return db.pragma('user_version', { simple: true }) as number
}
