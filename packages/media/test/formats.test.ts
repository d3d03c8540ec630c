import t from 'tap'
import { SOURCE_FORMATS, contentTypeOf, extensionOf, isSourceFormat, originalKey, thumbnailKey } from '../src/index.js'

t.test('each source format has one content type and one extension', async (t) => {
  t.same(Object.keys(SOURCE_FORMATS).sort(), ['jpeg', 'png'])
  t.equal(contentTypeOf('png'), 'image/png')
  t.equal(contentTypeOf('jpeg'), 'image/jpeg')
  t.equal(extensionOf('png'), 'png')
  t.equal(extensionOf('jpeg'), 'jpg')
})

t.test('only the table\'s formats are source formats', async (t) => {
  t.ok(isSourceFormat('png'))
  t.ok(isSourceFormat('jpeg'))
  for (const other of ['jpg', 'webp', 'gif', 'toString', '', undefined]) t.notOk(isSourceFormat(other), String(other))
})

t.test('storage keys are built from the image id, the height and the extension', async (t) => {
  const id = '0b6b5c1e-7a53-4a43-9a57-0f4f4b0c2f11'
  t.equal(originalKey(id, 'jpeg'), `originals/${id}.jpg`)
  t.equal(originalKey(id, 'png'), `originals/${id}.png`)
  t.equal(thumbnailKey(id, 200, 'jpeg'), `thumbnails/${id}/200.jpg`)
  t.equal(thumbnailKey(id, 400, 'png'), `thumbnails/${id}/400.png`)
})
