import { Type, type Static } from '@fastify/type-provider-typebox'

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    message: Type.String({ description: 'What is wrong, for a person to read' }),
    field: Type.Optional(Type.String({ description: 'The request field at fault, when there is one' })),
  },
  { $id: 'Error' },
)

/** 401s keep the shape of the API we replace (DRF + simplejwt), which its clients parse. */
export const AuthErrorResponse = Type.Object(
  {
    detail: Type.String(),
    code: Type.Optional(Type.String()),
    messages: Type.Optional(Type.Array(Type.Object({ token_class: Type.String(), token_type: Type.String(), message: Type.String() }))),
  },
  { $id: 'AuthError' },
)

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

export const ExpiringLinkResource = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    url: Type.String({ description: 'Signed view link; stops opening at expires_at or when revoked' }),
    variant: Type.Union([Type.Literal('original'), Type.Integer()]),
    format: Type.Union([ServedFormatName, Type.Null()], { description: 'The one format the link answers in; null: chosen by `Accept` (thumbnails), or the original file' }),
    expires_at: Type.String({ format: 'date-time' }),
    created_at: Type.String({ format: 'date-time' }),
  },
  { $id: 'ExpiringLink' },
)
export type ExpiringLinkResource = Static<typeof ExpiringLinkResource>

export const ImageIdParams = Type.Object({ id: Type.String({ description: 'Image id' }) })

/** Errors a route can answer with, by status, for the OpenAPI document. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, Type.Ref(status === 401 ? 'AuthError' : 'Error')]))
}
