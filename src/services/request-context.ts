import type { Principal } from '../domain/principal';

/** What a use case needs to know about the request it serves, whatever the edge. */
export interface RequestContext {
  /** Absolute public base URL of the gateway (no trailing slash), for URLs handed out. */
  baseUrl: string;
  /** The caller. */
  principal: Principal;
  /**
   * Told of each resource the request named but may not see, answered as if it did not exist
   * (`flow:<id>`, `source:<id>`, `object:<id>`): the audit trail records the attempt.
   */
  concealed?: (reference: string) => void;
}
