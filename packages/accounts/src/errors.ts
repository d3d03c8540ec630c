/**
 * A rule said no. `field` names what is at fault; `reason` tells a caller how to answer:
 * bad input, nothing by that name or id, or a clash with what exists.
 */
export class AccountError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly reason: 'invalid' | 'not_found' | 'conflict' = 'invalid',
  ) {
    super(message)
    this.name = 'AccountError'
  }
}
