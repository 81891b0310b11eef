/** Who is asking: the role the API and the live feed decide on. */

/** How the principal was established. */
export type AuthVia = 'token' | 'proxy' | 'open';

/** An operator sees everything. */
export interface OperatorPrincipal {
  readonly role: 'operator';
  readonly name: string;
  readonly via: AuthVia;
  /** The token's id (never the token), when it came with one: open sockets close when it is revoked. */
  readonly tokenId?: string;
}

/** A user sees their own jobs and the totals of their accounts. */
export interface UserPrincipal {
  readonly role: 'user';
  readonly name: string;
  readonly accounts: readonly string[];
  readonly via: AuthVia;
  readonly tokenId?: string;
}

export type Principal = OperatorPrincipal | UserPrincipal;

/** Everyone is an operator while no user or operator token exists (the demo). */
export const OPEN_PRINCIPAL: OperatorPrincipal = { role: 'operator', name: 'anonymous', via: 'open' };

/** True for a principal this module made (the live server hands principals back as `unknown`). */
export function isPrincipal(p: unknown): p is Principal {
  if (p === null || typeof p !== 'object') return false;
  const role = (p as { role?: unknown }).role;
  return (role === 'operator' || role === 'user') && typeof (p as { name?: unknown }).name === 'string';
}
