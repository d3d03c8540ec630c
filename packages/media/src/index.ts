export {
  FORMAT_TOKEN_CODES,
  RENDITION_FORMATS,
  RENDITION_PREFERENCE,
  SOURCE_FORMATS,
  contentTypeOf,
  extensionOf,
  isRenditionFormat,
  isServedFormat,
  isSourceFormat,
  sourceFormatOfContentType,
  type RenditionFormat,
  type ServedFormat,
  type SourceFormat,
} from './formats.js'
export { originalKey, resumableUploadSideKeys, stagedUploadKey, thumbnailKey } from './storage-keys.js'
export {
  THUMBNAIL_GRANT_CONDITIONS,
  grantsOriginal,
  grantsThumbnail,
  type GrantableThumbnail,
  type ThumbnailGrantCondition,
  type TierGrants,
} from './grant.js'
export { heightToFitInside, narrowestBoxWidth, renderedSize, thumbnailWidth, type Dimensions } from './sizes.js'
export { negotiateFormat, parseAccept, rankFormats, representationKey } from './negotiation.js'
