/** A request target reduced to the MISP controller action that CakePHP 2 dispatches it to. */
export interface CanonicalRoute {
  /** The `/admin/` prefix (CakePHP prefix routing): the action is `admin_<action>`. */
  readonly admin: boolean
  /** camelCase with a lower first letter: 'sharingGroups', 'events'. */
  readonly controller: string
  /** Lowercased action name without the admin prefix: 'restsearch'. */
  readonly action: string
  readonly extension: 'json' | 'xml' | 'csv' | undefined
  /** 'admin/users/index', 'events/restsearch': admin prefix, controller, action. */
  readonly route: string
  /**
   * The first passed argument, percent-decoded, for the routes whose class depends on
   * it: `me` in users/view/me. Undefined for other routes.
   */
  readonly firstArgument?: string
}

export type Canonical =
  | { ok: true, route: CanonicalRoute }
  | { ok: false, message: string }

export type SensitiveCategory = 'users' | 'auth_keys' | 'sharing_groups' | 'sync_servers' |
  'settings' | 'roles' | 'workflows' | 'organisations'

export type RouteClass =
  | { readonly kind: 'read', readonly searchBody: boolean }
  | { readonly kind: 'write' }
  | { readonly kind: 'sensitive', readonly category: SensitiveCategory }
