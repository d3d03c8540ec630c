export { ImageResource, ServedFormatName, ThumbnailResource } from './schema.js'
export { toImageJson, type ShownImage, type ViewLinkUrl } from './image-json.js'
