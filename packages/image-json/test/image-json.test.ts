import t from 'tap'
import type { ImageWithThumbnails } from '@imageapi/db'
import { toImageJson } from '../src/index.js'

const image = {
  id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  owner_id: 'b3f9c3d2-0000-4000-8000-000000000001',
  title: 'Holiday',
  width: 1200,
  height: 300,
  format: 'jpeg',
  bytes: 12345,
  original_key: 'originals/x.jpg',
  created_at: new Date('2026-12-01T10:00:00.000Z'),
  placeholder: Buffer.from([1, 2, 3]),
  thumbnails: [
    { height: 200, width: 800, status: 'ready', error: null, renditions: ['webp'], requested: false },
    { height: 400, width: null, status: 'pending', error: null, renditions: [], requested: false },
    { height: 600, width: null, status: 'failed', error: 'decoder said no', renditions: [], requested: false },
  ],
} as unknown as ImageWithThumbnails

const urlOf = (claims: { imageId: string; variant: number | 'original'; format?: string }) => `https://img.test/v/${claims.variant}${claims.format ? `.${claims.format}` : ''}`

t.test('shows only the heights the tier grants, a ready one with its link and a link per format, a pending one without', async (t) => {
  const json = toImageJson(image, { thumbnail_heights: [200, 400], original_link: false }, urlOf)
  t.same(json.thumbnails.map((thumbnail) => [thumbnail.height, thumbnail.status, thumbnail.url]), [[200, 'ready', 'https://img.test/v/200'], [400, 'pending', null]])
  t.same(json.thumbnails[0]!.formats, { webp: 'https://img.test/v/200.webp', jpeg: 'https://img.test/v/200.jpeg' })
  t.equal(json.thumbnails[0]!.rendered_height, 200)
  t.equal(json.original, null, 'no original without the grant')
  t.equal(json.placeholder, Buffer.from([1, 2, 3]).toString('base64'))
  t.equal(json.created_at, '2026-12-01T10:00:00.000Z')
})

t.test('a failed thumbnail carries its error, and the original link comes with the grant', async (t) => {
  const json = toImageJson(image, { thumbnail_heights: [200, 400, 600], original_link: true }, urlOf)
  t.same(json.thumbnails[2], { height: 600, width: null, rendered_height: null, status: 'failed', url: null, error: 'decoder said no' })
  t.same(json.original, { url: 'https://img.test/v/original' })
})
