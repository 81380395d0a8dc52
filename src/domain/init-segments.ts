/**
 * The `init_segments` rule of the flow schemas (flow-video.json and the others): "MUST be set to
 * `true` if Media Objects have `init_object` populated. If set to `true`, all Media Objects MUST
 * have `init_object` populated."
 */

/** Whether a flow document declares init segments (`essence_parameters.init_segments: true`). */
export function usesInitSegments(flow: { essence_parameters?: Record<string, unknown> }): boolean {
  return flow.essence_parameters?.init_segments === true;
}

/**
 * Why a segment cannot join a flow under the rule, or undefined. `initObjectId` is the init
 * object the segment brings, or, for a re-used media object registered with one, that object's.
 */
export function initSegmentsViolation(flowId: string, flowUsesInit: boolean, objectId: string, initObjectId: string | undefined): string | undefined {
  if (flowUsesInit && initObjectId === undefined) {
    return `Flow ${flowId} has init_segments: true, so every segment needs an init_object_id (object ${objectId} has none)`;
  }
  if (!flowUsesInit && initObjectId !== undefined) {
    return `Flow ${flowId} does not have init_segments: true, so its segments cannot have an init object (object ${objectId} has ${initObjectId}); set essence_parameters.init_segments first`;
  }
  return undefined;
}
