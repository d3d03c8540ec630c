import { Type } from '@fastify/type-provider-typebox'

/** A user's fields as the API takes them; their values are checked by the rules in @imageapi/accounts. */
export const userFields = {
  email: Type.String({ maxLength: 254 }),
  password: Type.String({ maxLength: 1024, description: 'At least 5 characters; stored as an argon2id hash' }),
  tier: Type.String({ maxLength: 200, description: 'Tier name; case is ignored (basic finds Basic)' }),
  is_admin: Type.Boolean(),
  is_active: Type.Boolean({ description: 'false: the user cannot sign in, and their tokens and links stop working at once' }),
}
