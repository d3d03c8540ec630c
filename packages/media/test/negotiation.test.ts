import t from 'tap'
import { negotiateFormat, parseAccept, rankFormats, representationKey, type RenditionFormat, type ServedFormat } from '../src/index.js'

const BOTH = new Set<RenditionFormat>(['avif', 'webp'])
const WEBP_ONLY = new Set<RenditionFormat>(['webp'])
const NONE = new Set<RenditionFormat>()

// [Accept, source format, renditions available, expected]
const TABLE: Array<[string | undefined, 'jpeg' | 'png', ReadonlySet<RenditionFormat>, ServedFormat, string]> = [
  [undefined, 'jpeg', BOTH, 'jpeg', 'no Accept: the source format'],
  ['', 'jpeg', BOTH, 'jpeg', 'an empty Accept: the source format'],
  ['*/*', 'jpeg', BOTH, 'jpeg', '*/* names no modern format: the source format'],
  ['image/*', 'png', BOTH, 'png', 'image/* names no modern format: the source format'],
  ['image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', 'jpeg', BOTH, 'avif', "Chrome's Accept: AVIF"],
  ['image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', 'jpeg', WEBP_ONLY, 'webp', "Chrome's Accept, AVIF not made: WebP"],
  ['image/avif,image/webp,*/*', 'png', NONE, 'png', 'nothing but the source made: the source format'],
  ['image/webp,*/*', 'jpeg', BOTH, 'webp', 'WebP named, AVIF not: WebP'],
  ['image/avif;q=0, image/webp', 'jpeg', BOTH, 'webp', 'image/avif;q=0 refuses AVIF'],
  ['image/avif;q=0,image/webp;q=0,*/*', 'jpeg', BOTH, 'jpeg', 'both refused: the source format'],
  ['image/webp;q=1, image/avif;q=0.5', 'jpeg', BOTH, 'webp', 'the higher q wins over the server order'],
  ['image/avif;q=0.5, image/webp;q=0.5', 'jpeg', BOTH, 'avif', 'equal q: AVIF before WebP'],
  ['image/jpeg, image/webp;q=0.5', 'jpeg', BOTH, 'jpeg', 'the source format asked for with a higher q wins'],
  ['image/png;q=0.1, image/avif', 'png', BOTH, 'avif', 'a source format with a lower q loses'],
  ['IMAGE/AVIF', 'jpeg', BOTH, 'avif', 'media types are case-insensitive'],
  ['image/avif ; q=1.000 , image/webp', 'jpeg', BOTH, 'avif', 'whitespace and three decimals are allowed'],
  ['image/avif;q=2', 'jpeg', BOTH, 'jpeg', 'malformed (q above 1): the source format'],
  ['image/avif;q=0.1234', 'jpeg', BOTH, 'jpeg', 'malformed (four decimals): the source format'],
  ['image/avif;q', 'jpeg', BOTH, 'jpeg', 'malformed (parameter without a value): the source format'],
  ['image', 'jpeg', BOTH, 'jpeg', 'malformed (no subtype): the source format'],
  ['image/avif/x', 'jpeg', BOTH, 'jpeg', 'malformed (two slashes): the source format'],
  ['*/avif', 'jpeg', BOTH, 'jpeg', 'malformed (*/subtype): the source format'],
  ['image/a\u0000vif', 'jpeg', BOTH, 'jpeg', 'malformed (control character): the source format'],
  ['image/avif, garbage', 'jpeg', BOTH, 'jpeg', 'one malformed element makes the header malformed'],
  [`image/avif,${'x/y,'.repeat(600)}`, 'jpeg', BOTH, 'jpeg', 'an overlong header is treated as malformed'],
  ['image/avif;level=1;q=0.9', 'jpeg', BOTH, 'avif', 'other parameters are allowed'],
  ['image/avif,,image/webp', 'jpeg', WEBP_ONLY, 'webp', 'empty list elements are ignored'],
]

t.test('the Accept negotiation table', async (t) => {
  for (const [accept, source, available, expected, why] of TABLE) {
    t.equal(negotiateFormat(accept, source, available), expected, `${why} (Accept: ${JSON.stringify(accept)?.slice(0, 80)})`)
  }
})

t.test('the ranking always ends with the source format, and names the representation independent of what is made', async (t) => {
  t.same(rankFormats('image/avif,image/webp,*/*', 'jpeg'), ['avif', 'webp', 'jpeg'])
  t.same(rankFormats('image/webp;q=0.9,image/avif;q=0.8', 'png'), ['webp', 'avif', 'png'])
  t.same(rankFormats('*/*', 'png'), ['png'])
  t.same(rankFormats('bad header', 'jpeg'), ['jpeg'])
})

t.test('parseAccept reads q values and refuses malformed headers', async (t) => {
  t.same(parseAccept('image/webp;q=0.5, */*'), [
    { type: 'image', subtype: 'webp', q: 0.5 },
    { type: '*', subtype: '*', q: 1 },
  ])
  t.equal(parseAccept('image/webp;q=abc'), undefined)
  t.equal(parseAccept('image/webp;=1'), undefined)
})

t.test('representationKey is equal exactly when every source format ranks the same', async (t) => {
  t.equal(representationKey('image/avif,image/webp,image/apng,*/*;q=0.8'), representationKey('image/avif, image/webp, */*'), 'two browsers that both take AVIF share it')
  t.equal(representationKey(undefined), representationKey('*/*'), 'no Accept and */* both get the source format')
  t.not(representationKey('image/webp,*/*'), representationKey('image/avif,*/*'))
  t.not(representationKey('image/jpeg, image/webp;q=0.5'), representationKey('image/webp'), 'a JPEG preferred over WebP is another representation for a JPEG thumbnail')
})
