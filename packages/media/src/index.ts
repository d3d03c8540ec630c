export { SOURCE_FORMATS, contentTypeOf, extensionOf, isSourceFormat, type SourceFormat } from './formats.js'
export { originalKey, thumbnailKey } from './storage-keys.js'
export {
  THUMBNAIL_GRANT_CONDITIONS,
  grantsOriginal,
  grantsThumbnail,
  type GrantableThumbnail,
  type ThumbnailGrantCondition,
  type TierGrants,
} from './grant.js'
export { heightToFitInside, narrowestBoxWidth, thumbnailWidth, type Dimensions } from './sizes.js'
