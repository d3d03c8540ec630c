export { hashPassword, verifyPassword } from './passwords.js'
export { AccountError, createAccount, ensureAdmin, type NewAccount, type EnsureAdminResult } from './users.js'
