/**
 * Object ids allocated for a flow before segments name them (POST /flows/{id}/storage with
 * `object_ids`), as a client does: the gateway refuses a segment whose object it does not know
 * unless the segment brings get_urls.
 */
import type { Harness } from './gateway-harness';

type Send = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;

const isObjectExists = (res: { status: number; body: unknown }): boolean =>
  res.status === 400 && (res.body as { type?: string } | undefined)?.type === 'ObjectExists';

/**
 * Allocates `objectIds` for the flow through `via`: a harness, or a function that sends a
 * request (under a base path, with credentials...). Ids the store already has (allocated or
 * registered earlier, so a segment may re-use them) are left as they are.
 */
export async function allocateObjects(via: Harness | Send, flowId: string, objectIds: readonly string[], headers?: Record<string, string>): Promise<void> {
  const send: Send = typeof via === 'function' ? via : (method, path, body) => via.request(method, path, body, headers);
  const allocate = (ids: readonly string[]): Promise<{ status: number; body: unknown }> => send('POST', `/flows/${flowId}/storage`, { object_ids: [...ids] });
  let res = await allocate(objectIds);
  if (isObjectExists(res)) {
    // One already exists, so the batch stored none: one by one, skipping those.
    for (const id of objectIds) {
      res = await allocate([id]);
      if (res.status !== 201 && !isObjectExists(res)) break;
    }
    if (isObjectExists(res)) return;
  }
  if (res.status !== 201) throw new Error(`allocating ${objectIds.join(', ')} for flow ${flowId}: ${res.status} ${JSON.stringify(res.body)}`);
}
