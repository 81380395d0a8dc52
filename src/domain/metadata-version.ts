/**
 * `metadata_version` (flow-common.json): "A change to the Flow metadata ... results in a new
 * version", set by the service "whenever Flow metadata is changed and `metadata_version` is
 * either not set by the client, or set to its existing value"; a client's value is always
 * accepted on creation (media moved between stores keeps its version).
 */

/**
 * The version a flow gets from a write: the client's on creation, or a new value it sent
 * (different from the stored one); otherwise a fresh one from `newVersion`. Every write of a
 * flow's metadata (PUT, a property endpoint, the store's own collected_by edits) passes here;
 * segment writes do not.
 */
export function metadataVersionAfter(stored: string | undefined, sent: string | undefined, creating: boolean, newVersion: () => string): string {
  if (sent !== undefined && (creating || sent !== stored)) return sent;
  return newVersion();
}
