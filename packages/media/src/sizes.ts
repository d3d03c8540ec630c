/**
 * Thumbnail sizes. A thumbnail has the height asked for and the original's aspect (as displayed,
 * after EXIF orientation): its width is the height times the aspect, rounded to the nearest pixel,
 * at least 1. The worker renders exactly this width, and the API announces it before the file exists.
 */

export interface Dimensions {
  width: number
  height: number
}

export function thumbnailWidth(image: Dimensions, height: number): number {
  return Math.max(1, Math.round((image.width * height) / image.height))
}

/**
 * The size a thumbnail owed at `height` is actually made at: never larger than the original. A
 * height above the original's gets the original's own size (re-encoded, metadata stripped), since
 * enlarging only adds bytes and blur; the row keeps the owed height as its name.
 */
export function renderedSize(image: Dimensions, height: number): Dimensions {
  if (height >= image.height) return { width: image.width, height: image.height }
  return { width: thumbnailWidth(image, height), height }
}

/**
 * The largest thumbnail height whose rendering (width as thumbnailWidth rounds it) fits inside the
 * box: at most `box.height` high and at most `box.width` wide. Undefined when even a 1 px high
 * rendering is wider than the box (see narrowestBoxWidth).
 */
export function heightToFitInside(image: Dimensions, box: Dimensions): number | undefined {
  // round(h × w / H) ≤ W exactly when 2hw < (2W + 1)H (Math.round takes .5 up); in integers, so
  // the largest such h is found without float error, then checked with the worker's own rounding.
  let height = Math.min(box.height, Math.floor(((2 * box.width + 1) * image.height - 1) / (2 * image.width)))
  while (height >= 1 && thumbnailWidth(image, height) > box.width) height--
  return height >= 1 ? height : undefined
}

/** The narrowest box any rendering of the image fits in: the width of its 1 px high thumbnail. */
export function narrowestBoxWidth(image: Dimensions): number {
  return thumbnailWidth(image, 1)
}
