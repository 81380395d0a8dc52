/**
 * How large a request VAST accepts. Both public clients agree on 5 MiB: the Python SDK
 * (vastdb/util.py, `MAX_TABULAR_REQUEST_SIZE = 5 << 20`) and the Java client (VastConfig,
 * `maxRequestBodySize = 5 * MB` with MB = 1024 * 1024, "must be <= the server's largest buffer").
 * Neither says what the cluster answers to a larger body, so the transport refuses one before
 * sending it rather than find out.
 */
export const MAX_REQUEST_BODY_BYTES = 5 * 1024 * 1024;

/**
 * What the Python SDK aims for when it slices inserts (Arrow record batches) and select requests:
 * 90% of the limit (`MAX_RECORD_BATCH_SLICE_SIZE`, `MAX_QUERY_DATA_REQUEST_SIZE`). The client
 * layer should slice to this, so that a batch that grows a little when framed still fits.
 */
export const SDK_SLICE_BUDGET_BYTES = Math.floor(0.9 * MAX_REQUEST_BODY_BYTES);
