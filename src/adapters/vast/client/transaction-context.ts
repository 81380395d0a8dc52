/**
 * What every request of one VAST transaction shares: where it goes, the transport, and the
 * headers the transport leaves to the client (vastdb/_internal.py `_fill_common_headers`; the
 * Java client's CommonRequestHeadersBuilder):
 *
 * - `tabular-txid`: the transaction's id, as an unsigned decimal (`0` on begin, as the Python
 *   SDK sends it);
 * - `tabular-api-version-id`: `1`, what both public clients send;
 * - `tabular-client-name`: who is asking (the Python SDK sends `tabular-api`, the Java client its
 *   engine's name); the gateway sends its own.
 */
import type { VastRequest, VastResponse } from '../transport/vast-transport';

export const TABULAR_API_VERSION = '1';

/** The one method of VastTransport the client uses (a stub in unit tests). */
export interface VastRequester {
  request(request: VastRequest): Promise<VastResponse>;
}

export interface SelectSettings {
  /** Server-side readers per select request (`tabular-num-of-subsplits`). */
  readonly numSubSplits: number;
  /** Rows after which a sub-split stops and reports where it stopped (`tabular-limit-rows`). */
  readonly limitRowsPerSubSplit: number;
  /** Row groups each sub-split reads before skipping (the third number of `tabular-split`). */
  readonly rowGroupsPerSubSplit: number;
}

export interface TransactionContext {
  readonly transport: VastRequester;
  readonly bucket: string;
  readonly select: SelectSettings;
  /** The common headers of this transaction; throws once it is no longer open. */
  headers(operation: string): Record<string, string>;
}

export function commonHeaders(txid: bigint, clientName: string): Record<string, string> {
  return {
    'tabular-txid': txid.toString(10),
    'tabular-api-version-id': TABULAR_API_VERSION,
    'tabular-client-name': clientName,
  };
}
