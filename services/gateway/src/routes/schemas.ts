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

import { ServedFormatName } from '@imageapi/image-json'

export { ImageResource, ServedFormatName, ThumbnailResource } from '@imageapi/image-json'


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
