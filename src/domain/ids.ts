/** The UUID form TAMS uses for flow, source, webhook and request ids (REST and GraphQL alike). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
