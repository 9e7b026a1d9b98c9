import type { AuthPrincipal } from './actor.ts';

/** Typed context variables every Coffer handler can rely on. */
export interface AppEnv {
  Variables: {
    requestId: string;
    principal: AuthPrincipal;
  };
}
