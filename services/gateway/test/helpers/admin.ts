import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Repositories } from '@imageapi/db'
import { createTestUser, multipartBody, type TestUser } from '@imageapi/testkit'
import { login } from './build-test-app.js'

export interface SignedInAdmin {
  admin: TestUser
  token: string
  /** A request with the admin's bearer token. */
  asAdmin(options: InjectOptions): Promise<LightMyRequestResponse>
}

/** A new admin, signed in to the gateway under test. */
export async function signInAdmin(app: FastifyInstance, repos: Repositories): Promise<SignedInAdmin> {
  const admin = await createTestUser(repos, 'Enterprise', { isAdmin: true })
  const token = (await login(app, admin.email, admin.password)).access
  return { admin, token, asAdmin: (options) => app.inject({ ...options, headers: { ...options.headers, authorization: `Bearer ${token}` } }) }
}

/** Uploads an image as the token's user; resolves with its id. */
export async function uploadImage(app: FastifyInstance, token: string, data: Buffer, filename = 'photo.jpg'): Promise<string> {
  const { body, headers } = multipartBody({ image: { filename, data } })
  const response = await app.inject({ method: 'POST', url: '/api/images', payload: body, headers: { ...headers, authorization: `Bearer ${token}` } })
  if (response.statusCode !== 201) throw new Error(`upload failed: ${response.statusCode} ${response.body}`)
  return response.json().id
}
