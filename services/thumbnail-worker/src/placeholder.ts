import type { Sharp } from 'sharp'
import { rgbaToThumbHash } from 'thumbhash'

/** ThumbHash accepts images of at most 100×100 pixels; more would not change the hash anyway. */
export const PLACEHOLDER_BOX = 100

/**
 * The ThumbHash of an image that is already oriented as displayed. The aspect ratio the hash
 * carries comes from the pixels' own dimensions, so the image must keep the original's aspect.
 */
export async function thumbHashOf(image: Sharp): Promise<Buffer> {
  const { data, info } = await image
    // Never enlarged: a smaller image already holds all the detail a ThumbHash keeps.
    .resize(PLACEHOLDER_BOX, PLACEHOLDER_BOX, { fit: 'inside', withoutEnlargement: true })
    // ThumbHash takes RGBA only: greyscale is expanded, an opaque image gets a full alpha.
    .toColourspace('srgb')
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
  return Buffer.from(rgbaToThumbHash(info.width, info.height, data))
}
