import { compileProfile, type Profile } from './profile.js'

// Built-in profiles, as rules over catalogue routes. Every pattern names catalogue actions
// without wildcards, so a new MISP action is never allowed by accident.

/** Requests PyMISP sends when it starts: version, own account, attribute types. */
const PYMISP_START = [
  'allow GET,HEAD servers/getVersion',
  'allow GET,HEAD users/view',
  'allow GET,HEAD attributes/describeTypes'
]

const SEARCH = [
  ...PYMISP_START,
  'allow GET,HEAD,POST events/restSearch',
  'allow GET,HEAD,POST attributes/restSearch',
  'allow GET,HEAD,POST objects/restSearch',
  'allow GET,HEAD,POST sightings/restSearch',
  'allow GET,HEAD,POST galaxyClusters/restSearch',
  'allow GET,HEAD,POST events/index',
  'allow GET,HEAD,POST galaxies/index',
  'allow GET,HEAD,POST galaxyClusters/index',
  'allow GET,HEAD,POST warninglists/index',
  'allow GET,HEAD tags/index',
  'allow GET,HEAD taxonomies/index'
]

const SIGHTINGS = [
  ...PYMISP_START,
  'allow POST sightings/add',
  'allow GET,HEAD events/view',
  'allow GET,HEAD,POST events/index',
  'allow GET,HEAD,POST events/restSearch',
  'allow GET,HEAD,POST attributes/restSearch'
]

// Tags are attached with events/addTag, attributes/addTag and tags/attachTagToObject;
// removeTag and removeTagFromObject take data away and are left out with the deletes.
const INGEST = [
  ...PYMISP_START,
  'allow GET,HEAD events/view',
  'allow GET,HEAD,POST events/index',
  'allow GET,HEAD,POST events/restSearch',
  'allow GET,HEAD,POST attributes/restSearch',
  'allow POST events/add',
  'allow POST,PUT events/edit',
  'allow POST attributes/add',
  'allow POST,PUT attributes/edit',
  'allow POST objects/add',
  'allow POST objects/edit',
  'allow POST objectReferences/add',
  'allow POST tags/add',
  'allow POST tags/edit',
  'allow POST events/addTag',
  'allow POST attributes/addTag',
  'allow POST tags/attachTagToObject'
]

// The requests a MISP server sends to another while it pulls from it, read from
// app/Lib/Tools/ServerSyncTool.php (MISP/MISP commit 044c27ea) and app/Model/Server.php:
// the event index with filters, events one by one, proposals, galaxy clusters,
// sightings and analyst data, plus the connection test.
const SYNC_PULL = [
  'allow GET,HEAD servers/getVersion',
  'allow GET,HEAD users/view',
  'allow POST servers/postTest',
  'allow GET,HEAD servers/getAvailableSyncFilteringRules',
  'allow GET,HEAD,POST events/index',
  'allow GET,HEAD events/view',
  'allow GET,HEAD shadowAttributes/index',
  'allow POST attributes/restSearch',
  'allow POST galaxyClusters/restSearch',
  'allow GET,HEAD galaxyClusters/view',
  'allow POST sightings/restSearch',
  'allow GET,HEAD,POST analystData/indexMinimal',
  'allow GET,HEAD analystData/index'
]

// The requests a MISP server sends to another while it pushes to it, from the same files.
// It checks whether an event exists with HEAD /events/view/{uuid}, then posts to
// events/add or events/edit. Older versions of app/Model/Event.php send GET
// /eventReports/add to learn whether the remote supports event reports.
const SYNC_PUSH = [
  'allow GET,HEAD servers/getVersion',
  'allow GET,HEAD users/view',
  'allow POST servers/postTest',
  'allow HEAD events/view',
  'allow POST events/filterEventIdsForPush',
  'allow POST events/add',
  'allow POST events/edit',
  'allow POST events/pushProposals',
  'allow GET eventReports/add',
  'allow POST galaxies/pushCluster',
  'allow POST galaxyClusters/restSearch',
  'allow POST sightings/filterSightingUuidsForPush',
  'allow POST sightings/bulkSaveSightings',
  'allow POST analystData/filterAnalystDataForPush',
  'allow POST analystData/pushAnalystData'
]

export const BUILT_IN_RULES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  search: SEARCH,
  sightings: SIGHTINGS,
  ingest: INGEST,
  'sync-pull': SYNC_PULL,
  'sync-push': SYNC_PUSH
})

export const BUILT_IN_PROFILES: ReadonlyMap<string, Profile> = new Map(
  Object.entries(BUILT_IN_RULES).map(([name, rules]) => [name, compileBuiltIn(name, rules)])
)

function compileBuiltIn (name: string, rules: readonly string[]): Profile {
  const compiled = compileProfile(name, rules, true)
  if (!compiled.ok) throw new Error(`built-in profile ${name} is invalid: ${compiled.problems[0]?.message ?? ''}`)
  return compiled.profile
}
