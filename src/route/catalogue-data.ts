import type { SensitiveCategory } from './types.js'

/**
 * Actions of one MISP controller, grouped by class, as space-separated method names.
 * `admin_x` names the prefix route `/admin/{controller}/x` (CakePHP prefix routing).
 * `search` actions are reads that take their filters in a POST body.
 */
export type ControllerActions = {
  readonly read?: string
  readonly search?: string
  readonly write?: string
} & { readonly [C in SensitiveCategory]?: string }

/**
 * Every controller and action of ACLComponent::ACL_LIST in MISP 2.5.1, classified by what
 * the action does, not by the HTTP method. Controller names are spelled as MISP's ACL
 * spells them (lcfirst of the class name without `Controller`).
 *
 * Rules applied:
 * - `read` only where the action is clearly a listing, view, export or search that stores
 *   nothing. UI helpers, jobs and anything unverified are `write`.
 * - Reads that expose credentials or other accounts are sensitive, not `read`.
 *   admin/users/index and admin/users/view list every account, with the authkey in
 *   clear while advanced authkeys are off. authKeys/index and authKeys/view list keys.
 *   servers/index lists sync servers with their remote keys. servers/serverSettings
 *   and servers/getSetting show the configuration. events/automation shows the
 *   caller's own key, so it sits with auth_keys.
 * - roles/index, roles/view, sharingGroups/index and sharingGroups/view are `read`:
 *   every MISP user can call them and they only list what the user may see.
 * - api/rest and servers/rest replay an arbitrary API request inside MISP, which would
 *   step around every route rule of the proxy, so they are sensitive (filed under
 *   settings, the closest category for an administrator tool).
 */
export const CONTROLLERS: ReadonlyArray<readonly [string, ControllerActions]> = [
  ['accessLogs', { read: 'admin_index admin_request admin_queryLog' }],
  ['allowedlists', {
    read: 'index admin_index',
    write: 'admin_add admin_delete admin_edit'
  }],
  ['analystData', {
    read: 'getChildren getRelatedElement index indexMinimal view',
    write: 'add delete edit filterAnalystDataForPush pushAnalystData'
  }],
  ['analystDataBlocklists', { read: 'index', write: 'add delete edit massDelete' }],
  ['api', {
    read: 'openapi getApiInfo getAllApis viewDeprecatedFunctionUse',
    settings: 'rest'
  }],
  ['attributes', {
    read: 'attributeStatistics bro describeTypes download downloadAttachment ' +
      'downloadSample exportSearch fetchViewValue index returnAttributes rpz search ' +
      'text view viewAnalystData viewPicture',
    search: 'restSearch',
    write: 'add add_attachment add_threatconnect addTag attributeReplace ' +
      'checkAttachments checkComposites checkOrphanedAttributes delete deleteSelected ' +
      'edit editField editSelected enrich fetchEditForm generateCorrelation ' +
      'getMassEditForm hoverEnrichment pruneOrphanedAttributes removeTag ' +
      'reportValidationIssuesAttributes restore toggleCorrelation toggleToIDS ' +
      'updateAttributeValues'
  }],
  ['auditLogs', { read: 'admin_index fullChange eventIndex returnDates' }],
  ['authKeys', { auth_keys: 'add delete edit pin index view' }],
  ['benchmarks', { read: 'index' }],
  ['cerebrates', {
    read: 'index view preview_orgs preview_sharing_groups',
    sync_servers: 'add delete edit',
    organisations: 'download_org pull_orgs',
    sharing_groups: 'download_sg pull_sgs'
  }],
  ['collectionElements', { read: 'index', write: 'add addElementToCollection delete' }],
  ['collections', { read: 'index view', write: 'add delete edit' }],
  ['communities', { read: 'index view', write: 'requestAccess' }],
  ['correlationExclusions', { read: 'index view', write: 'add edit clean delete' }],
  ['correlations', {
    read: 'top overCorrelations',
    write: 'generateOccurrences generateTopCorrelations switchEngine truncate'
  }],
  ['cryptographicKeys', { read: 'index view', write: 'add delete' }],
  ['dashboards', {
    read: 'getForm getEmptyWidget renderWidget listTemplates export',
    // NOTE: index is not verified to store nothing, so it stays a write.
    write: 'index updateSettings saveTemplate import deleteTemplate'
  }],
  ['decayingModel', {
    read: 'export view index getAllDecayingModels decayingToolBasescore ' +
      'decayingToolSimulation decayingToolRestSearch decayingToolComputeSimulation',
    write: 'update import add edit delete enable disable decayingTool'
  }],
  ['decayingModelMapping', { read: 'viewAssociatedTypes', write: 'linkAttributeTypeToModel' }],
  ['eventBlocklists', { read: 'index', write: 'add delete edit massDelete' }],
  ['eventDelegations', {
    read: 'index view',
    write: 'acceptDelegation delegateEvent deleteDelegation'
  }],
  ['eventGraph', { read: 'view viewPicture', write: 'add delete' }],
  ['eventReports', {
    read: 'view viewSummary index getProxyMISPElements',
    write: 'add edit delete reportFromEvent restore extractAllFromReport ' +
      'extractFromReport replaceSuggestionInReport importReportFromUrl sendToLLM'
  }],
  ['events', {
    read: 'checkPublishedStatus csv delegation_index downloadExport ' +
      'downloadOpenIOCEvent export exportChoice exportModule filterEventIndex ' +
      'getEventInfoById getEventGraphReferences getEventGraphTags getEventGraphGeneric ' +
      'getEventTimeline getDistributionGraph getReferenceData getReferences ' +
      'getObjectTemplate hids importChoice nids proposalEventIndex restSearchExport ' +
      'runTaxonomyExclusivityCheck stix stix2 view viewClusterRelations ' +
      'viewEventAttributes viewGraph viewGalaxyMatrix xml',
    search: 'index restSearch',
    write: 'add addIOC addTag add_misp_export alert checkLocks checkuuid contact ' +
      'cullEmptyEvents delete deleteNode dot edit enrichEvent filterEventIdsForPush ' +
      'freeTextImport generateCount getEditStrategy handleModuleResults importModule ' +
      'massDelete merge populate protect publish publishSightings pushEventToZMQ ' +
      'pushEventToKafka pushProposals queryEnrichment recoverEvent removePivot ' +
      'removeTag reportValidationIssuesEvents restoreDeletedEvents saveFreeText ' +
      'strposarray toggleCorrelation unprotect unpublish updateGraph ' +
      'upload_analysis_file upload_sample upload_stix addEventLock removeEventLock',
    auth_keys: 'automation'
  }],
  ['favouriteTags', { read: 'getToggleField', write: 'toggle' }],
  ['feeds', {
    read: 'compareFeeds feedCoverage index previewEvent previewIndex searchCaches view',
    // fetchFromFeed, fetchFromAllFeeds, enable, disable and cacheFeeds act on a GET.
    write: 'add cacheFeeds delete disable edit enable fetchFromAllFeeds fetchFromFeed ' +
      'fetchSelectedFromFreetextIndex getEvent importFeeds loadDefaultFeeds toggleSelected'
  }],
  ['galaxies', {
    read: 'forkTree relationsGraph showGalaxies view viewGraph',
    search: 'index export',
    write: 'attachCluster attachMultipleClusters delete disable enable import ' +
      'pushCluster selectGalaxy selectGalaxyNamespace selectCluster toggle update wipe_default'
  }],
  ['galaxyClusterBlocklists', { read: 'index', write: 'add delete edit massDelete' }],
  ['galaxyClusterRelations', { read: 'index view', write: 'add delete edit' }],
  ['galaxyClusters', {
    read: 'view viewCyCatRelations viewGalaxyMatrix viewRelations viewRelationTree',
    search: 'index restSearch',
    write: 'add delete detach edit publish restore unpublish updateCluster'
  }],
  ['galaxyElements', { read: 'index', write: 'delete flattenJson' }],
  ['jobs', {
    read: 'getError getGenerateCorrelationProgress getProgress index',
    // cache queues a background export job (JobsController::cache).
    write: 'cache clearJobs'
  }],
  ['logs', {
    read: 'event_index returnDates admin_search index',
    search: 'admin_index',
    write: 'testForStolenAttributes pruneUpdateLogs'
  }],
  ['modules', { read: 'index', write: 'queryEnrichment' }],
  // news/index stores the time the user last read the news (User.newsread).
  ['news', { read: 'admin_index', write: 'index add edit delete' }],
  ['noticelists', {
    read: 'index view preview_entries',
    write: 'delete enableNoticelist getToggleField toggleEnable update'
  }],
  ['objectReferences', { read: 'view', write: 'add bulkAdd delete' }],
  ['objectTemplateElements', { read: 'viewElements' }],
  ['objectTemplates', {
    read: 'objectChoice view index possibleObjectTemplates getRaw',
    write: 'activate add edit delete getToggleField objectMetaChoice update'
  }],
  ['objects', {
    read: 'fetchViewValue proposeObjectsFromAttributes view viewAnalystData',
    search: 'restSearch',
    write: 'add addValueField delete edit get_row orphanedObjectDiagnostics editField ' +
      'fetchEditForm quickAddAttributeForm quickFetchTemplateWithValidObjectAttributes ' +
      'groupAttributesIntoObject revise_object createFromFreetext'
  }],
  ['orgBlocklists', { read: 'index', write: 'add delete edit' }],
  ['organisations', {
    read: 'fetchSGOrgRow view index fetchOrgsForSG getUUIDs',
    organisations: 'admin_add admin_delete admin_edit admin_generateuuid admin_merge'
  }],
  ['pages', { read: 'display' }],
  ['posts', { write: 'add delete edit pushMessageToZMQ' }],
  ['regexp', {
    read: 'index admin_index',
    write: 'admin_add admin_clean admin_delete admin_edit cleanRegexModifiers'
  }],
  ['restClientHistory', { read: 'index', write: 'delete' }],
  ['roles', {
    read: 'index view',
    // admin_index is missing from MISP's ACL, so only site admins reach it, and
    // routes.php maps /roles/admin_index to it. Unverified as a pure read.
    roles: 'admin_add admin_delete admin_edit admin_set_default admin_index'
  }],
  ['servers', {
    read: 'getAvailableSyncFilteringRules getInstanceUUID getPyMISPVersion getVersion ' +
      'idTranslator postTest getSubmodulesStatus getWorkers dbSchemaDiagnostic ipUser ' +
      'updateProgress statusZeroMQServer',
    write: 'cache checkout clearWorkerQueue cspReport deleteFile getSubmoduleQuickUpdateForm ' +
      'killAllWorkers ondemandAction purgeSessions removeOrphanedCorrelations ' +
      'restartDeadWorkers restartWorkers startWorker startZeroMQServer stopWorker ' +
      'stopZeroMQServer uploadFile pruneDuplicateUUIDs removeDuplicateEvents upgrade2324 ' +
      'cleanModelCaches',
    // pull and push run a synchronisation on a GET.
    sync_servers: 'add changePriority compareServers createSync delete edit ' +
      'eventBlockRule filterEventIndex getRemoteUser import index previewEvent ' +
      'previewIndex pull push queryAvailableSyncFilteringRules resetRemoteAuthKey ' +
      'testConnection',
    // serverSettingsEdit writes on any method other than GET, HEAD and OPTIONS included.
    settings: 'dbConfiguration getSetting releaseUpdateLock rest serverSettings ' +
      'serverSettingsEdit serverSettingsReloadSetting update updateDatabase updateJSON ' +
      'updateSubmodule'
  }],
  ['shadowAttributes', {
    read: 'download index view viewPicture',
    write: 'accept acceptSelected add add_attachment delete discard discardSelected ' +
      'edit generateCorrelation'
  }],
  ['sharingGroupBlueprints', {
    read: 'index view viewOrgs generateUuidList encodeSyncRule',
    write: 'add delete detach edit',
    // execute creates or updates the sharing groups a blueprint describes.
    sharing_groups: 'execute'
  }],
  ['sharingGroups', {
    read: 'index view',
    sharing_groups: 'add addServer addOrg delete edit removeServer removeOrg'
  }],
  ['sightingBlocklists', { read: 'index', write: 'add delete edit' }],
  ['sightingdb', { read: 'index requestStatus search', write: 'add edit delete' }],
  ['sightings', {
    read: 'index view listSightings viewSightings',
    search: 'restSearch',
    write: 'add advanced delete quickDelete bulkSaveSightings ' +
      'filterSightingUuidsForPush quickAdd'
  }],
  ['tagCollections', {
    read: 'index view',
    write: 'add addTag delete edit getRow import removeTag'
  }],
  ['tags', {
    read: 'index search showEventTag showAttributeTag tagStatistics view viewGraph viewTag',
    write: 'add attachTagToObject delete edit modifyTagRelationship quickAdd ' +
      'removeTagFromObject selectTag selectTaxonomy'
  }],
  ['tasks', { read: 'index', write: 'setTask' }],
  ['taxiiServers', {
    read: 'collectionsIndex index objectsIndex objectView view getRoot getCollections',
    // A TAXII server receives pushed data, like a sync server.
    sync_servers: 'add edit delete push'
  }],
  ['taxonomies', {
    read: 'index taxonomy_tags export view',
    // addTag creates the taxonomy's tags on a GET.
    write: 'addTag delete disable disableTag enable taxonomyMassConfirmation ' +
      'taxonomyMassHide taxonomyMassUnhide toggleRequired toggleHighlighted update ' +
      'import unhideTag hideTag normalizeCustomTagsToTaxonomyFormat'
  }],
  ['templateElements', {
    read: 'index',
    write: 'add delete edit templateElementAddChoices'
  }],
  ['templates', {
    read: 'index templateChoices view',
    write: 'add delete deleteTemporaryFile edit populateEventFromTemplate ' +
      'saveElementSorting submitEventPopulation uploadFile'
  }],
  ['threads', { read: 'index view viewEvent' }],
  ['userLoginProfiles', { read: 'index', write: 'trust malicious', users: 'admin_delete' }],
  ['userSettings', {
    read: 'view getSetting',
    search: 'index',
    write: 'setSetting delete setHomePage eventIndexColumnToggle'
  }],
  ['users', {
    // users/view (and users/view/me, which PyMISP calls at start-up) returns the
    // caller's own account only.
    read: 'attributehistogram checkIfLoggedIn dashboard downloadTerms histogram ' +
      'searchGpgKey fetchGpgKey statistics tagStatisticsGraph view viewPeriodicSummary ' +
      'getGpgPublicKey view_login_history routeafterlogin',
    write: 'checkAndCorrectPgps heartbeat login logout logout401 notificationSettings ' +
      'register request_API terms unsubscribe updateLoginTime verifyCertificate verifyGPG',
    users: 'acceptRegistrations admin_add admin_delete admin_destroy admin_edit ' +
      'admin_email admin_filterUserIndex admin_index admin_massToggleField admin_monitor ' +
      'admin_quickEmail admin_view change_pw delete discardRegistrations edit email_otp ' +
      'forgot otp hotp totp_new totp_delete initiatePasswordReset password_reset registrations',
    auth_keys: 'resetAllSyncAuthKeys resetauthkey updateToAdvancedAuthKeys'
  }],
  ['warninglists', {
    read: 'view export',
    search: 'index checkValue',
    write: 'delete enableWarninglist getToggleField toggleEnable update edit add import'
  }],
  ['workflowBlueprints', {
    read: 'index view export',
    write: 'add delete edit import update'
  }],
  ['workflows', {
    read: 'index view triggers moduleIndex moduleView',
    workflows: 'rebuildRedis edit delete editor toggleModule checkGraph executeWorkflow ' +
      'debugToggleField massToggleField moduleStatelessExecution'
  }]
]
