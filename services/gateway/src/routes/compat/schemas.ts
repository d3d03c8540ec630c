import { Type } from '@fastify/type-provider-typebox'

/** Every compat route is documented under one tag, as deprecated, pointing at the routes to use instead. */
export const COMPAT_DOCS = { tags: ['compat'], deprecated: true } as const

export const LEGACY_NOTE =
  'Legacy: a route of the Django API imageapi replaces, kept so that its clients work unchanged. New clients should use the native routes (`POST /api/images`, `GET /api/images`, `POST /api/images/{id}/links`).'

/** DRF's answer when the permission (here: the tier's rights) does not allow a route. */
export const PERMISSION_DENIED = { detail: 'You do not have permission to perform this action.' }

export const CompatFieldErrors = Type.Record(Type.String(), Type.Array(Type.String()), {
  description: 'Messages by field, as that API sends them, e.g. {"title": ["This field is required."]}',
})

export const CompatDetail = Type.Object({ detail: Type.String() })

export const CompatListEntry = Type.Object({
  title: Type.String(),
  link: Type.String({ description: 'Signed link to the file the upload asked for: {host}/api/view/{token}/' }),
  resolution: Type.String({ description: 'WIDTHxHEIGHT of that file, e.g. 267x200' }),
  create_at: Type.String({ format: 'date-time' }),
  expired_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
    description: 'When the link stops opening, for uploads sent with expired_time; entries stay listed after it',
  }),
})

export const CompatListPage = Type.Object({
  count: Type.Integer(),
  next: Type.Union([Type.String(), Type.Null()]),
  previous: Type.Union([Type.String(), Type.Null()]),
  results: Type.Array(CompatListEntry),
})
