/**
 * The lock of one flow: a transaction-level advisory lock every writer of the flow's segments
 * (registration, deletion, the flow's own changes, deletion requests, the seeder) takes before
 * anything else, across replicas. Under it a writer sees every segment committed before it and
 * nothing another writer of the flow has yet to commit, so the no-overlap check it makes on its
 * batch holds when it commits: segments of one flow never overlap, whatever the concurrency.
 */
export function flowLockKey(flowId: string): string {
  return `tams-flow:${flowId}`;
}
