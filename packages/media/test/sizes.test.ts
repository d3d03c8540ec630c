import t from 'tap'
import { heightToFitInside, narrowestBoxWidth, renderedSize, thumbnailWidth } from '../src/index.js'

t.test('a thumbnail width is the height times the aspect, rounded, at least 1', async (t) => {
  t.equal(thumbnailWidth({ width: 800, height: 600 }, 200), 267)
  t.equal(thumbnailWidth({ width: 800, height: 600 }, 58), 77)
  t.equal(thumbnailWidth({ width: 800, height: 600 }, 57), 76)
  t.equal(thumbnailWidth({ width: 3, height: 2 }, 1), 2) // 1.5 rounds up
  t.equal(thumbnailWidth({ width: 1, height: 1000 }, 10), 1)
})

t.test('an 800×600 image inside 77 wide × 123 high is 77×58', async (t) => {
  const image = { width: 800, height: 600 }
  const height = heightToFitInside(image, { width: 77, height: 123 })
  t.equal(height, 58)
  t.equal(thumbnailWidth(image, height!), 77)
})

t.test('the box height limits a wide box', async (t) => {
  t.equal(heightToFitInside({ width: 800, height: 600 }, { width: 1000, height: 100 }), 100)
})

t.test('the fitted height is the largest whose rendering fits, over many images and boxes', async (t) => {
  let checked = 0
  for (const image of [{ width: 800, height: 600 }, { width: 3, height: 2 }, { width: 1, height: 7 }, { width: 1920, height: 1081 }, { width: 99, height: 100 }]) {
    for (let boxWidth = 1; boxWidth <= 120; boxWidth++) {
      for (const boxHeight of [1, 7, 58, 123, 500]) {
        const height = heightToFitInside(image, { width: boxWidth, height: boxHeight })
        if (height === undefined) {
          t.ok(thumbnailWidth(image, 1) > boxWidth, `${image.width}×${image.height} in ${boxWidth}×${boxHeight}: nothing fits`)
          continue
        }
        checked++
        if (thumbnailWidth(image, height) > boxWidth || height > boxHeight) t.fail(`${image.width}×${image.height} in ${boxWidth}×${boxHeight}: ${height} does not fit`)
        if (height < boxHeight && thumbnailWidth(image, height + 1) <= boxWidth) t.fail(`${image.width}×${image.height} in ${boxWidth}×${boxHeight}: ${height + 1} fits too`)
      }
    }
  }
  t.ok(checked > 1000)
})

t.test('the narrowest box is the width of the 1 px high rendering', async (t) => {
  t.equal(narrowestBoxWidth({ width: 800, height: 600 }), 1)
  t.equal(narrowestBoxWidth({ width: 5000, height: 10 }), 500)
  t.equal(heightToFitInside({ width: 5000, height: 10 }, { width: 499, height: 10 }), undefined)
  t.equal(heightToFitInside({ width: 5000, height: 10 }, { width: 500, height: 10 }), 1)
})

t.test('a thumbnail is never made larger than its original', async (t) => {
  t.same(renderedSize({ width: 16, height: 16 }, 200), { width: 16, height: 16 }, 'a 16×16 original owed at 200 is made at 16×16')
  t.same(renderedSize({ width: 800, height: 600 }, 600), { width: 800, height: 600 }, 'at exactly its height: its own size')
  t.same(renderedSize({ width: 800, height: 600 }, 599), { width: thumbnailWidth({ width: 800, height: 600 }, 599), height: 599 }, 'below it: scaled down')
  t.same(renderedSize({ width: 800, height: 600 }, 200), { width: 267, height: 200 })
})
