import { Type, type Static } from '@fastify/type-provider-typebox'
import { TITLE_MAX_LENGTH } from './titles.js'

export const UPLOAD_CONTENT_TYPES = ['image/png', 'image/jpeg'] as const

export const CreateDirectUploadBody = Type.Object(
  {
    title: Type.Optional(Type.String({ maxLength: TITLE_MAX_LENGTH, description: `At most ${TITLE_MAX_LENGTH} characters` })),
    bytes: Type.Integer({ minimum: 1, description: 'The exact byte size of the file that will be sent' }),
    content_type: Type.Union(
      UPLOAD_CONTENT_TYPES.map((type) => Type.Literal(type)),
      { description: 'The file\'s type; the file is checked to be one on completion' },
    ),
  },
  { additionalProperties: false },
)
export type CreateDirectUploadBody = Static<typeof CreateDirectUploadBody>

export const DirectUploadResource = Type.Object({
  id: Type.String({ format: 'uuid', description: 'The upload\'s id, which becomes the image\'s id' }),
  upload: Type.Object({
    method: Type.Literal('PUT'),
    url: Type.String({ description: 'Where to send the file: storage, not this API' }),
    headers: Type.Record(Type.String(), Type.String(), {
      description: 'Send exactly these headers with the file as the body (the URL\'s signature covers them)',
    }),
  }),
  complete_url: Type.String({ description: 'POST here once the file is sent' }),
  expires_at: Type.String({ format: 'date-time', description: 'The upload URL works until then' }),
})
export type DirectUploadResource = Static<typeof DirectUploadResource>

export const UploadIdParams = Type.Object({ id: Type.String({ description: 'The upload\'s id (a UUID)' }) })
