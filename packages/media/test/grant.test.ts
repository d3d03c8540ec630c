import t from 'tap'
import { grantsOriginal, grantsThumbnail } from '../src/index.js'

const basic = { thumbnail_heights: [200], original_link: false }
const premium = { thumbnail_heights: [200, 400], original_link: true }

t.test('a thumbnail is granted when its height is one of the tier heights', async (t) => {
  t.ok(grantsThumbnail(basic, { height: 200, requested: false }))
  t.notOk(grantsThumbnail(basic, { height: 400, requested: false }))
  t.ok(grantsThumbnail(premium, { height: 400, requested: false }))
})

t.test('a thumbnail asked for explicitly is granted whatever the tier heights', async (t) => {
  t.ok(grantsThumbnail(basic, { height: 58, requested: true }))
  t.ok(grantsThumbnail({ thumbnail_heights: [], original_link: false }, { height: 58, requested: true }))
})

t.test('the original is granted by the tier original link', async (t) => {
  t.notOk(grantsOriginal(basic))
  t.ok(grantsOriginal(premium))
})
