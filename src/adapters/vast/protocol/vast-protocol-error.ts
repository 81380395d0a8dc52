/**
 * A VAST message the gateway could not build or make sense of. Thrown by the codec only; the
 * client layer decides what it means for a request (a truncated select answer is a
 * disconnection to retry, a malformed one a bug or an unknown server version).
 */
export type VastProtocolProblem =
  /** The select answer stopped inside a frame, or with a stream unfinished. */
  | 'truncated'
  /** The server ended the select with its failure marker. */
  | 'server_failed'
  /** Bytes that do not follow the documented layout. */
  | 'malformed'
  /** A column whose type or count differs from what was asked for. */
  | 'unexpected_column';

export class VastProtocolError extends Error {
  override readonly name = 'VastProtocolError';

  constructor(
    readonly problem: VastProtocolProblem,
    message: string,
    /** For `server_failed`: VAST's error code, when the marker carried one. */
    readonly serverErrorCode?: bigint,
  ) {
    super(message);
  }
}
