// Who is acting, as every service sees it: the authenticated principal and the request it came with.

export interface AuthPrincipal {
  id: string;
  kind: 'user' | 'service_account';
  name: string;
  isAdmin: boolean;
  /** How this request authenticated, and with which credential (an API key id, or a token's jti). */
  via: 'api_key' | 'oauth';
  credentialId: string;
}

export interface Actor {
  principal: AuthPrincipal;
  /** The server's own request id. */
  requestId: string;
  /** The X-Request-Id the client sent, if any. */
  clientRequestId?: string;
}

/** The audit fields that identify who did something. */
export const actorFields = (actor: Actor) => ({
  actorId: actor.principal.id,
  actorKind: actor.principal.kind,
  requestId: actor.requestId,
  clientRequestId: actor.clientRequestId ?? null,
});
