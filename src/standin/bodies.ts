/**
 * Small MISP 2.5 response bodies for the demo. Tests give the stand-in the full documents
 * from PyMISP's test data instead.
 */
export const DEMO_DESCRIBE_TYPES = {
  sane_defaults: {
    'ip-dst': { default_category: 'Network activity', to_ids: 1 },
    domain: { default_category: 'Network activity', to_ids: 1 },
    md5: { default_category: 'Payload delivery', to_ids: 1 }
  },
  types: ['ip-dst', 'domain', 'md5'],
  categories: ['Network activity', 'Payload delivery'],
  category_type_mappings: {
    'Network activity': ['ip-dst', 'domain'],
    'Payload delivery': ['md5']
  }
}

export const DEMO_EVENT = {
  Event: {
    id: '1',
    uuid: '5758ebf5-c898-48e6-9fe9-5665c0a83866',
    info: 'Demo event: phishing campaign indicators',
    date: '2026-12-01',
    threat_level_id: '2',
    analysis: '1',
    distribution: '1',
    published: true,
    Attribute: [
      { id: '1', type: 'ip-dst', category: 'Network activity', value: '198.51.100.23', to_ids: true },
      { id: '2', type: 'domain', category: 'Network activity', value: 'login-example.test', to_ids: true }
    ]
  }
}
