import t from 'tap'
import { buildTestGateway } from './helpers/build-test-app.js'

const { app } = await buildTestGateway(t)

t.test('GET /docs serves Swagger UI from the package, with no CDN', async (t) => {
  const page = await app.inject({ method: 'GET', url: '/docs/' })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
  t.notMatch(page.body, /https?:\/\/(cdn|unpkg|cdnjs|jsdelivr)/i, 'no asset from a CDN')
  const asset = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' })
  t.equal(asset.statusCode, 200, 'the UI bundle is served locally')
})

interface SchemaObject {
  type?: string
  required?: string[]
  properties?: Record<string, SchemaObject>
  items?: SchemaObject
  anyOf?: SchemaObject[]
  enum?: unknown[]
  format?: string
  title?: string
  $ref?: string
}

/** The values a schema allows, whether written as one enum or as an anyOf of single-value enums (TypeBox unions). */
function enumValues(schema: SchemaObject | undefined): unknown[] {
  if (!schema) return []
  return [...(schema.enum ?? []), ...(schema.anyOf ?? []).flatMap(enumValues)]
}

t.test('GET /docs/json is an OpenAPI 3 document generated from the route schemas', async (t) => {
  const response = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(response.statusCode, 200)
  const doc = response.json()
  t.match(doc.openapi, /^3\./)
  const schemas = doc.components.schemas as Record<string, SchemaObject>
  /** A `$ref` followed into components/schemas; anything else as it is. */
  const resolve = (schema: SchemaObject): SchemaObject => (schema.$ref ? schemas[schema.$ref.replace('#/components/schemas/', '')]! : schema)
  const json = (response: { content: Record<string, { schema: SchemaObject }> }) => resolve(response.content['application/json']!.schema)
  const named = (title: string) => Object.values(schemas).find((schema) => schema.title === title)

  t.test('every route a client calls, with its methods', async (t) => {
    const expected: Record<string, string[]> = {
      '/api/token/': ['post'],
      '/api/token/refresh/': ['post'],
      '/api/images': ['get', 'post'],
      '/api/images/{id}': ['delete', 'get'],
      '/api/images/{id}/links': ['get', 'post'],
      '/api/links/{id}': ['delete'],
      '/api/admin/tiers': ['get', 'post'],
      '/api/admin/tiers/{id}': ['delete', 'get', 'patch'],
      '/api/admin/users': ['get', 'post'],
      '/api/admin/users/{id}': ['get', 'patch'],
      '/api/admin/users/{id}/deactivate': ['post'],
      '/api/admin/backfills': ['get', 'post'],
      '/api/admin/backfills/{id}': ['get'],
      '/api/admin/formats': ['get'],
      '/api/admin/formats/{format}': ['patch'],
      '/api/admin/queue': ['get'],
      '/api/admin/queue/pause': ['post'],
      '/api/admin/queue/resume': ['post'],
      '/api/admin/queue/retry-failed': ['post'],
    }
    for (const [path, methods] of Object.entries(expected)) {
      t.same(Object.keys(doc.paths[path] ?? {}).filter((key) => ['get', 'post', 'put', 'patch', 'delete'].includes(key)).sort(), methods, `${path}: ${methods.join(', ')}`)
    }
    for (const [path, method] of [['/api/images', 'post'], ['/api/images/{id}', 'get'], ['/api/images/{id}/links', 'post'], ['/api/admin/tiers', 'get']] as const) {
      t.same(doc.paths[path][method].security, [{ bearerAuth: [] }], `${method.toUpperCase()} ${path} needs a bearer token`)
    }
    t.match(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer' })
  })

  t.test('the Django-compatible routes are documented under the compat tag, marked deprecated', async (t) => {
    const compat: Record<string, string> = {
      '/api/upload/small/': 'post',
      '/api/upload/medium/': 'post',
      '/api/upload/orginal/': 'post',
      '/api/upload/original/': 'post',
      '/api/upload/custom/': 'post',
      '/api/list/': 'get',
    }
    for (const [path, method] of Object.entries(compat)) {
      const operation = doc.paths[path]?.[method]
      t.ok(operation, `${method.toUpperCase()} ${path} is documented`)
      t.same(operation?.tags, ['compat'], `${path}: tagged compat`)
      t.equal(operation?.deprecated, true, `${path}: deprecated for new clients`)
    }
    t.ok(doc.tags.some((tag: { name: string; description?: string }) => tag.name === 'compat' && /Django/.test(tag.description ?? '')), 'the compat tag says what the routes are')
  })

  t.test('POST /api/images: a multipart body with a required binary `image`, answering 201 with an image', async (t) => {
    const upload = doc.paths['/api/images'].post
    const body = upload.requestBody.content['multipart/form-data']?.schema as SchemaObject | undefined
    t.ok(body, 'upload documented as multipart/form-data')
    t.ok(upload.requestBody.required, 'the body is required')
    t.same(body?.required, ['image'], '`image` is the one required field')
    t.match(body?.properties?.image, { type: 'string', format: 'binary' }, '`image` is a file')
    t.match(body?.properties?.title, { type: 'string' })
    t.ok(upload.responses['201'], '201 documented')
    t.same(Object.keys(json(upload.responses['201']).properties ?? {}).sort(), Object.keys(named('Image')?.properties ?? {}).sort(), '201 answers with the Image properties')
    for (const status of ['400', '401', '413', '415', '429', '503']) t.ok(upload.responses[status], `${status} documented`)
  })

  t.test('GET /api/images: cursor pagination over Image items', async (t) => {
    const list = doc.paths['/api/images'].get
    t.ok(list.parameters.some((p: { name: string; in: string }) => p.name === 'cursor' && p.in === 'query'), 'a `cursor` query parameter')
    const page = json(list.responses['200'])
    t.same(page.required?.sort(), ['items', 'next_cursor'])
    t.equal(resolve(page.properties!.items!.items!).title, 'Image', 'items are Image resources')
  })

  t.test('GET /api/images/{id}: the Image schema, its thumbnails with height, status, url and formats', async (t) => {
    const get = doc.paths['/api/images/{id}'].get
    t.match(get.parameters.find((p: { in: string }) => p.in === 'path'), { name: 'id', required: true }, 'the id is a required path parameter')
    // the long-poll (README, "Waiting for thumbnails without polling")
    const query = Object.fromEntries(get.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => [p.name, p]))
    t.match(query.wait, { required: false, schema: { enum: ['ready'] }, description: /pending/ }, '`wait=ready` documented')
    t.match(query.timeout, { required: false, schema: { type: 'integer', minimum: 1, maximum: 30 }, description: /seconds/ }, '`timeout` documented')
    t.match(get.description, /wait=ready/, 'the route description explains the wait')
    for (const status of ['200', '401', '404']) t.ok(get.responses[status], `${status} documented`)
    const image = named('Image')
    t.ok(image, 'an Image component schema')
    const answered = json(get.responses['200'])
    const imageFields = ['bytes', 'created_at', 'format', 'height', 'id', 'original', 'placeholder', 'thumbnails', 'title', 'width']
    t.same(Object.keys(answered.properties ?? {}).sort(), imageFields, '200 answers with the Image properties')
    t.same(Object.keys(image?.properties ?? {}).sort(), imageFields, 'the Image schema has the same properties')
    t.same([...(answered.required ?? [])].sort(), imageFields, 'all of them always present')
    t.same(enumValues(answered.properties!.format).sort(), ['jpeg', 'png'], 'format: jpeg or png')

    const thumbnails = answered.properties!.thumbnails!
    t.equal(thumbnails.type, 'array', '`thumbnails` is an array')
    const thumbnail = resolve(thumbnails.items!)
    for (const field of ['height', 'width', 'rendered_height', 'status', 'url', 'formats']) t.ok(thumbnail.properties?.[field], `a thumbnail has \`${field}\``)
    t.same([...(thumbnail.required ?? [])].sort(), ['height', 'rendered_height', 'status', 'url', 'width'], 'required thumbnail fields')
    t.equal(thumbnail.properties!.height!.type, 'integer')
    t.same(enumValues(thumbnail.properties!.status).sort(), ['failed', 'pending', 'ready'], 'status: pending, ready or failed')
    t.equal(thumbnail.properties!.url!.type, 'string')
    const formats = thumbnail.properties!.formats!
    t.equal(formats.type, 'object')
    t.same(Object.keys(formats.properties ?? {}).sort(), ['avif', 'jpeg', 'png', 'webp'], '`formats`: a link per rendition format')
    t.same(Object.keys(resolve(answered.properties!.original!).properties ?? {}), ['url'], '`original` has a `url`')
  })

  t.test('/api/images/{id}/links: create (seconds, variant, format) and list ExpiringLink items', async (t) => {
    const create = doc.paths['/api/images/{id}/links'].post
    const body = create.requestBody.content['application/json'].schema as SchemaObject
    t.same([...(body.required ?? [])].sort(), ['seconds', 'variant'])
    t.match(body.properties, { seconds: { type: 'integer', minimum: 300, maximum: 30000 }, variant: {}, format: {} })
    const link = named('ExpiringLink')
    t.same(Object.keys(link?.properties ?? {}).sort(), ['created_at', 'expires_at', 'format', 'id', 'url', 'variant'])
    t.same(Object.keys(json(create.responses['201']).properties ?? {}).sort(), Object.keys(link?.properties ?? {}).sort(), '201 answers with an ExpiringLink')
    const listed = json(doc.paths['/api/images/{id}/links'].get.responses['200'])
    t.equal(resolve(listed.properties!.items!.items!).title, 'ExpiringLink', 'the list holds ExpiringLink items')
  })

  t.test('admin routes: tiers, users, backfills, formats and the queue, with their schemas', async (t) => {
    const createTier = doc.paths['/api/admin/tiers'].post
    const tierBody = createTier.requestBody.content['application/json'].schema as SchemaObject
    t.same([...(tierBody.required ?? [])].sort(), ['name', 'thumbnail_heights'])
    t.match(tierBody.properties, { thumbnail_heights: { type: 'array', items: { type: 'integer' } }, original_link: { type: 'boolean' }, expiring_links: { type: 'boolean' } })
    for (const status of ['201', '400', '401', '403', '409']) t.ok(createTier.responses[status], `POST /api/admin/tiers: ${status} documented`)
    t.equal(resolve(json(doc.paths['/api/admin/tiers'].get.responses['200']).properties!.items!.items!).title, 'AdminTier')
    t.same(Object.keys(named('AdminTier')?.properties ?? {}).sort(), ['created_at', 'expiring_links', 'id', 'name', 'original_link', 'thumbnail_heights', 'updated_at', 'users'])
    t.match((doc.paths['/api/admin/users/{id}'].patch.requestBody.content['application/json'].schema as SchemaObject).properties, {
      email: { type: 'string' }, password: { type: 'string' }, tier: { type: 'string' }, is_admin: { type: 'boolean' }, is_active: { type: 'boolean' },
    })
    t.same(Object.keys(named('AdminUser')?.properties ?? {}).sort(), ['created_at', 'email', 'id', 'images', 'is_active', 'is_admin', 'tier', 'updated_at'])
    t.match(named('Backfill')?.properties, { total: { type: 'integer' }, done: { type: 'integer' }, failed: { type: 'integer' }, finished: { type: 'boolean' } })
    t.match(named('RenditionFormat')?.properties, { format: {}, enabled: { type: 'boolean' } })
    t.match(json(doc.paths['/api/admin/queue'].get.responses['200']).properties, { paused: { type: 'boolean' }, counts: { type: 'object' } })
  })
})
