import t from 'tap'
import { createTestUser, jpegImage, multipartBody, pngImage, type FilePart } from '@imageapi/testkit'
import { signInAdmin, uploadImage } from './helpers/admin.js'
import { buildTestGateway, login } from './helpers/build-test-app.js'

// Issue 19, item 5: every error says what is wrong, in the shape its route's clients expect.
const { app, env } = await buildTestGateway(t, { COMPAT_UPLOAD_WAIT_MS: '50' })
const { token: adminToken } = await signInAdmin(app, env.repos)
const member = await createTestUser(env.repos, 'Enterprise')
const userToken = (await login(app, member.email, member.password)).access
const REQUIRED = ['This field is required.']

function as(token: string) {
  return { authorization: `Bearer ${token}` }
}

function compatUpload(route: string, token: string, fields: Record<string, string | FilePart>) {
  const { body, headers } = multipartBody(fields)
  return app.inject({ method: 'POST', url: `/api/upload/${route}/`, payload: body, headers: { ...headers, ...as(token) } })
}

t.test('token routes: invalid JSON answers 400 {"detail": "JSON parse error - …"} as DRF does', async (t) => {
  for (const url of ['/api/token/', '/api/token/refresh/']) {
    const response = await app.inject({ method: 'POST', url, payload: '{"email": ', headers: { 'content-type': 'application/json' } })
    t.equal(response.statusCode, 400, url)
    t.match(response.headers['content-type'], /application\/json/)
    t.same(Object.keys(response.json()), ['detail'], url)
    t.match(response.json().detail, /^JSON parse error - \S/, url)
  }
})

t.test('token routes: an empty or absent body answers 400 with each field required, as DRF reads no data', async (t) => {
  const cases: Array<[string, object]> = [
    ['/api/token/', { email: REQUIRED, password: REQUIRED }],
    ['/api/token/refresh/', { refresh: REQUIRED }],
  ]
  for (const [url, expected] of cases) {
    const empty = await app.inject({ method: 'POST', url, payload: '', headers: { 'content-type': 'application/json' } })
    t.equal(empty.statusCode, 400, `${url} empty JSON body`)
    t.same(empty.json(), expected, `${url} empty JSON body`)
    const absent = await app.inject({ method: 'POST', url })
    t.equal(absent.statusCode, 400, `${url} no body`)
    t.same(absent.json(), expected, `${url} no body`)
  }
})

t.test('token routes: a JSON body that is not an object answers DRF non_field_errors', async (t) => {
  const list = await app.inject({ method: 'POST', url: '/api/token/', payload: '[1]', headers: { 'content-type': 'application/json' } })
  t.equal(list.statusCode, 400)
  t.same(list.json(), { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] })
  const none = await app.inject({ method: 'POST', url: '/api/token/refresh/', payload: 'null', headers: { 'content-type': 'application/json' } })
  t.equal(none.statusCode, 400)
  t.same(none.json(), { non_field_errors: ['No data provided'] })
})

t.test('token routes: a text/plain body answers 415 {"detail": "Unsupported media type …"} as DRF does', async (t) => {
  for (const url of ['/api/token/', '/api/token/refresh/']) {
    const response = await app.inject({ method: 'POST', url, payload: 'email=a', headers: { 'content-type': 'text/plain' } })
    t.equal(response.statusCode, 415, url)
    t.same(response.json(), { detail: 'Unsupported media type "text/plain" in request.' }, url)
  }
})

t.test('token routes: the wrong method answers 405 with Allow and DRF\'s {"detail"}', async (t) => {
  for (const [method, url] of [['GET', '/api/token/'], ['GET', '/api/token/refresh/'], ['PUT', '/api/token'], ['DELETE', '/api/token/refresh/']] as const) {
    const response = await app.inject({ method, url })
    t.equal(response.statusCode, 405, `${method} ${url}`)
    t.equal(response.headers.allow, 'POST', `${method} ${url}`)
    t.same(response.json(), { detail: `Method "${method}" not allowed.` }, `${method} ${url}`)
  }
})

t.test('other routes: the wrong method answers 405 with Allow and a message; an unknown path stays 404', async (t) => {
  const images = await app.inject({ method: 'DELETE', url: '/api/images', headers: as(userToken) })
  t.equal(images.statusCode, 405)
  t.equal(images.headers.allow, 'GET, HEAD, POST')
  t.same(images.json(), { statusCode: 405, error: 'Method Not Allowed', message: 'DELETE is not allowed on /api/images; it allows GET, HEAD, POST' })
  const tier = await app.inject({ method: 'PUT', url: '/api/admin/tiers/1', headers: as(adminToken) })
  t.equal(tier.statusCode, 405)
  t.equal(tier.headers.allow, 'DELETE, GET, HEAD, PATCH')
  const unknown = await app.inject({ method: 'GET', url: '/api/nothing-here' })
  t.equal(unknown.statusCode, 404)
  t.same(unknown.json(), { statusCode: 404, error: 'Not Found', message: 'no route for GET /api/nothing-here' })
})

t.test('a JSON body with the key __proto__ is refused as such, not as invalid JSON', async (t) => {
  const payload = '{"name": "x", "__proto__": {"is_admin": true}}'
  const admin = await app.inject({ method: 'POST', url: '/api/admin/tiers', payload, headers: { ...as(adminToken), 'content-type': 'application/json' } })
  t.equal(admin.statusCode, 400)
  t.same(admin.json(), { statusCode: 400, error: 'Bad Request', message: 'the body must not contain the key __proto__' })
  const token = await app.inject({ method: 'POST', url: '/api/token/', payload, headers: { 'content-type': 'application/json' } })
  t.equal(token.statusCode, 400)
  t.same(token.json(), { detail: 'JSON parse error - the body must not contain the key __proto__' })
  const constructor = await app.inject({ method: 'POST', url: '/api/admin/tiers', payload: '{"constructor": {"prototype": {}}}', headers: { ...as(adminToken), 'content-type': 'application/json' } })
  t.equal(constructor.statusCode, 400)
  t.equal(constructor.json().message, 'the body must not contain the key constructor.prototype')
})

t.test('invalid JSON elsewhere says what the syntax error is', async (t) => {
  const response = await app.inject({ method: 'POST', url: '/api/admin/tiers', payload: '{"name": }', headers: { ...as(adminToken), 'content-type': 'application/json' } })
  t.equal(response.statusCode, 400)
  t.match(response.json(), { statusCode: 400, error: 'Bad Request', message: /^the body is not valid JSON: Unexpected token '\}'/ })
})

t.test('a raw image/png body to POST /api/images: 415 saying the upload must be multipart/form-data with the file in "image"', async (t) => {
  const png = await pngImage(20, 10)
  for (const headers of [{ 'content-type': 'image/png' }, { 'content-type': 'application/json' }]) {
    const payload = headers['content-type'] === 'image/png' ? png : '{"image": "x"}'
    const response = await app.inject({ method: 'POST', url: '/api/images', payload, headers: { ...headers, ...as(userToken) } })
    t.equal(response.statusCode, 415, headers['content-type'])
    t.same(
      response.json(),
      {
        statusCode: 415,
        error: 'Unsupported Media Type',
        message: 'the upload must be multipart/form-data (content-type: multipart/form-data), with the file in the field "image"',
        field: 'image',
      },
      headers['content-type'],
    )
  }
})

t.test('text/plain to the admin API: 415 saying the body must be JSON', async (t) => {
  const response = await app.inject({ method: 'POST', url: '/api/admin/tiers', payload: 'name=x', headers: { ...as(adminToken), 'content-type': 'text/plain' } })
  t.equal(response.statusCode, 415)
  t.same(response.json(), { statusCode: 415, error: 'Unsupported Media Type', message: 'the body must be JSON (content-type: application/json)' })
  const noBody = await app.inject({ method: 'POST', url: '/api/admin/tiers', headers: as(adminToken) })
  t.equal(noBody.statusCode, 400)
  t.same(noBody.json(), { statusCode: 400, error: 'Bad Request', message: 'the request has no body: send a JSON object (content-type: application/json)' })
  const notAnObject = await app.inject({ method: 'POST', url: '/api/admin/tiers', payload: '[1]', headers: { ...as(adminToken), 'content-type': 'application/json' } })
  t.equal(notAnObject.statusCode, 400)
  t.equal(notAnObject.json().message, 'the body must be a JSON object')
})

t.test('seconds null or true: says it must be a whole number of seconds from 300 to 30000', async (t) => {
  const imageId = await uploadImage(app, userToken, await jpegImage(64, 48))
  for (const seconds of [null, true, 299, 30001, 300.5, 'soon']) {
    const response = await app.inject({ method: 'POST', url: `/api/images/${imageId}/links`, payload: { seconds, variant: 'original' }, headers: as(userToken) })
    t.equal(response.statusCode, 400, JSON.stringify(seconds))
    t.same(
      response.json(),
      { statusCode: 400, error: 'Bad Request', message: 'seconds must be an integer (a whole number of seconds) from 300 to 30000', field: 'seconds' },
      JSON.stringify(seconds),
    )
  }
})

t.test('validation messages have no body/ or querystring/ prefix, and name the field', async (t) => {
  const cases: Array<[string, string, object | undefined, { message: string; field: string }]> = [
    ['GET', '/api/images?limit=abc', undefined, { message: 'limit must be an integer from 1 to 100', field: 'limit' }],
    ['GET', '/api/images?limit=0', undefined, { message: 'limit must be an integer from 1 to 100', field: 'limit' }],
    ['POST', '/api/admin/tiers', { name: 'x' }, { message: 'thumbnail_heights is required', field: 'thumbnail_heights' }],
    ['POST', '/api/admin/tiers', { name: 'x', thumbnail_heights: ['tall'] }, { message: 'thumbnail_heights[0] must be an integer', field: 'thumbnail_heights' }],
    ['POST', '/api/admin/tiers', { name: 'x', thumbnail_heights: [200], original_link: 'maybe' }, { message: 'original_link must be a boolean', field: 'original_link' }],
    ['GET', '/api/admin/tiers/abc', undefined, { message: 'id must be an integer from 1 to 2147483647', field: 'id' }],
  ]
  for (const [method, url, payload, expected] of cases) {
    const response = await app.inject({ method: method as 'GET', url, headers: as(adminToken), ...(payload ? { payload } : {}) })
    t.equal(response.statusCode, 400, `${method} ${url} ${JSON.stringify(payload)}`)
    t.same(response.json(), { statusCode: 400, error: 'Bad Request', ...expected }, `${method} ${url} ${JSON.stringify(payload)}`)
    t.notMatch(response.json().message, /^(body|querystring|params|headers)\b/)
  }
})

t.test('a file with data after its end marker is told so (PNG IEND, JPEG EOI); a cut-off file is told it is truncated', async (t) => {
  const png = await pngImage(40, 30)
  const jpeg = await jpegImage(40, 30)
  const cases: Array<[string, Buffer, string]> = [
    ['PNG + 8 bytes', Buffer.concat([png, Buffer.from('trailing')]), "the file has data after its end marker: 8 bytes after the PNG's IEND chunk, where the image must end"],
    ['JPEG + 1 byte', Buffer.concat([jpeg, Buffer.from([0])]), "the file has data after its end marker: 1 byte after the JPEG's end-of-image (EOI) marker, where the image must end"],
    ['PNG cut short', png.subarray(0, png.length - 4), 'the file is truncated or corrupt (the PNG does not end with an IEND chunk)'],
    ['JPEG cut short', jpeg.subarray(0, jpeg.length - 1), 'the file is truncated or corrupt (the JPEG does not end with an end-of-image (EOI) marker)'],
  ]
  for (const [name, data, message] of cases) {
    const { body, headers } = multipartBody({ image: { filename: 'x.img', data } })
    const response = await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, ...as(userToken) } })
    t.equal(response.statusCode, 400, name)
    t.same(response.json(), { statusCode: 400, error: 'Bad Request', message, field: 'image' }, name)
  }
})

t.test('compat uploads: two files, too many fields answer DRF shapes with a message', async (t) => {
  const png = await pngImage(40, 30)
  const twoFiles = await compatUpload('original', userToken, { title: 'x', image: { filename: 'a.png', data: png }, other: { filename: 'b.png', data: png } })
  t.equal(twoFiles.statusCode, 400)
  t.same(twoFiles.json(), { image: ['Send exactly one file, in the field "image".'] })

  const manyFields: Record<string, string | FilePart> = { title: 'x', image: { filename: 'a.png', data: png } }
  for (let i = 0; i < 25; i++) manyFields[`field${i}`] = 'v'
  const tooManyFields = await compatUpload('original', userToken, manyFields)
  t.equal(tooManyFields.statusCode, 400)
  t.same(tooManyFields.json(), { detail: 'Too many fields in the multipart body (at most 20).' })
})

t.test('compat uploads: a raw body or invalid JSON answer DRF {"detail"} shapes', async (t) => {
  const raw = await app.inject({ method: 'POST', url: '/api/upload/small/', payload: await pngImage(20, 10), headers: { ...as(userToken), 'content-type': 'image/png' } })
  t.equal(raw.statusCode, 415)
  t.same(raw.json(), { detail: 'Unsupported media type "image/png" in request.' })
  const invalid = await app.inject({ method: 'POST', url: '/api/upload/small/', payload: '{"title": ', headers: { ...as(userToken), 'content-type': 'application/json' } })
  t.equal(invalid.statusCode, 400)
  t.match(invalid.json(), { detail: /^JSON parse error - / })
  const wrongMethod = await app.inject({ method: 'GET', url: '/api/upload/small/', headers: as(userToken) })
  t.equal(wrongMethod.statusCode, 405)
  t.equal(wrongMethod.headers.allow, 'POST')
  t.same(wrongMethod.json(), { detail: 'Method "GET" not allowed.' })
})

t.test('compat uploads: a file over the byte limit answers 413 {"image": [...]} in DRF shape', async (t) => {
  const small = await buildTestGateway(t, { UPLOAD_MAX_BYTES: '2000' })
  const user = await createTestUser(small.env.repos, 'Enterprise')
  const token = (await login(small.app, user.email, user.password)).access
  const { body, headers } = multipartBody({ title: 'big', image: { filename: 'big.jpg', data: await jpegImage(400, 300) } })
  const response = await small.app.inject({ method: 'POST', url: '/api/upload/original/', payload: body, headers: { ...headers, ...as(token) } })
  t.equal(response.statusCode, 413)
  t.same(Object.keys(response.json()), ['image'])
  t.match(response.json().image[0], /^The file is larger than the upload limit/)
})

t.test('compat custom: width 1 is valid; a box too narrow for the image says the minimum for it and why', async (t) => {
  // a 300×100 image is 3 px wide at its lowest (1 px high)
  const wide = await compatUpload('custom', adminToken, { title: 'wide', width: '1', height: '10', image: { filename: 'w.png', data: await pngImage(300, 100) } })
  t.equal(wide.statusCode, 400)
  t.same(wide.json(), {
    width: ['Ensure this value is greater than or equal to 3 for this image: it is 300×100, so even its 1 px high rendering is 3 px wide and a narrower box cannot hold it.'],
  })
  // a 100×100 image fits in a 1 px wide box (1×1): accepted (201, or 503 while the worker has not made it yet)
  const square = await compatUpload('custom', adminToken, { title: 'square', width: '1', height: '10', image: { filename: 's.png', data: await pngImage(100, 100) } })
  t.ok([201, 503].includes(square.statusCode), `accepted: ${square.statusCode} ${square.body}`)
  const zero = await compatUpload('custom', adminToken, { title: 'zero', width: '0', height: '10', image: { filename: 's.png', data: await pngImage(100, 100) } })
  t.equal(zero.statusCode, 400)
  t.same(zero.json(), { width: ['Ensure this value is greater than or equal to 1.'] })
})
