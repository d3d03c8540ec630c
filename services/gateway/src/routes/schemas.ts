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

export const ThumbnailResource = Type.Object({
  height: Type.Integer({ description: 'Height in pixels, as the tier grants it' }),
  width: Type.Union([Type.Integer(), Type.Null()], { description: 'Width in pixels once rendered (aspect ratio kept)' }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('ready'), Type.Literal('failed')]),
  url: Type.Union([Type.String(), Type.Null()], { description: 'Signed view link, once ready' }),
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
