import type { Principal } from '../domain/principal';

/** What a use case needs to know about the request it serves, whatever the edge. */
export interface RequestContext {
  /** Absolute public base URL of the gateway (no trailing slash), for URLs handed out. */
  baseUrl: string;
  /** The caller. */
  principal: Principal;
}
