import type { AuthPrincipal } from './actor.ts';

/** Typed context variables every Coffer handler can rely on. */
export interface AppEnv {
  Variables: {
    /** The server's own id for this request (never the client's). */
    requestId: string;
    /** A well-formed X-Request-Id the client sent, kept apart from ours. */
    clientRequestId?: string;
    principal: AuthPrincipal;
    /** An answered invocation: when the runtime was asked, and when the answer was back (stage metrics). */
    invocationMarks?: [runStartedAt: number, answeredAt: number];
  };
}
