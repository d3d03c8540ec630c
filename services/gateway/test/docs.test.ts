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

t.test('GET /docs/json is an OpenAPI 3 document generated from the route schemas', async (t) => {
  const response = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(response.statusCode, 200)
  const doc = response.json()
  t.match(doc.openapi, /^3\./)
  for (const path of ['/api/token/', '/api/token/refresh/', '/api/images', '/api/images/{id}']) t.ok(doc.paths[path], `documents ${path}`)
  t.ok(doc.paths['/api/images'].post.requestBody.content['multipart/form-data'], 'upload documented as multipart')
  t.ok(doc.paths['/api/images'].get.parameters.some((p: { name: string }) => p.name === 'cursor'))
  t.ok(doc.components.schemas.Image || JSON.stringify(doc).includes('"thumbnails"'), 'image resource schema present')
})
