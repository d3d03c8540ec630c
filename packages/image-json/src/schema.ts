import { Type, type Static } from 'typebox'

// The image as the API shows it: answers of the gateway, and the data of `image.ready` webhooks.

/** Formats a file can be served in, as named in links and `formats`. */
export const ServedFormatName = Type.Union([Type.Literal('png'), Type.Literal('jpeg'), Type.Literal('webp'), Type.Literal('avif')])

export const ThumbnailResource = Type.Object({
  height: Type.Integer({ description: 'The height owed, as the tier grants it (or as asked for): the name of this thumbnail in links' }),
  width: Type.Union([Type.Integer(), Type.Null()], { description: 'Width in pixels of the file once rendered (aspect ratio kept)' }),
  rendered_height: Type.Union([Type.Integer(), Type.Null()], {
    description: 'Height in pixels of the file once rendered: `height`, or the original\'s own height when that is smaller (thumbnails are never enlarged)',
  }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('ready'), Type.Literal('failed')]),
  url: Type.Union([Type.String(), Type.Null()], {
    description: 'Signed view link, once ready. It answers with the best format the request\'s `Accept` names (AVIF, then WebP), else the source format, with `Vary: Accept`',
  }),
  formats: Type.Optional(
    Type.Object(
      {
        png: Type.Optional(Type.String()),
        jpeg: Type.Optional(Type.String()),
        webp: Type.Optional(Type.String()),
        avif: Type.Optional(Type.String()),
      },
      {
        description:
          'Once ready: a signed link per format this thumbnail is ready in, each always answering in that one format (for `<picture>`/`srcset`, and for CDNs that ignore `Vary`). The source format (the original\'s, png or jpeg) is always there; webp and avif once made.',
      },
    ),
  ),
  error: Type.Optional(Type.String({ description: 'Why rendering failed, when it did' })),
})

export const ImageResource = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    title: Type.String(),
    width: Type.Integer({ description: 'Displayed width (EXIF orientation applied)' }),
    height: Type.Integer(),
    format: Type.Union([Type.Literal('png'), Type.Literal('jpeg')]),
    bytes: Type.Integer(),
    created_at: Type.String({ format: 'date-time' }),
    placeholder: Type.Union([Type.String(), Type.Null()], {
      description: 'A ThumbHash of the image, base64 (a few dozen bytes): decode it to paint a blurred preview before any thumbnail loads. Null until the first thumbnails are made',
    }),
    thumbnails: Type.Array(ThumbnailResource),
    original: Type.Union([Type.Object({ url: Type.String() }), Type.Null()], {
      description: 'Signed link to the original file, when the tier grants it',
    }),
  },
  { $id: 'Image' },
)
export type ImageResource = Static<typeof ImageResource>
