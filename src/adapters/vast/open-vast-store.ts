/**
 * A VastMetadataStore over its own transport (keep-alive connections to the endpoint, SigV4
 * signing, retries) and client; closing the store closes the transport's sockets.
 */
import { VastClient } from './client/vast-client';
import { VastTransport } from './transport/vast-transport';
import { VastMetadataStore } from './vast-metadata-store';

export interface VastStoreSettings {
  readonly endpoint: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly bucket: string;
  readonly schema: string;
  readonly region?: string;
  readonly ca?: string;
  readonly requestTimeoutMs?: number;
  readonly commitPollMs?: number;
}

export function createVastMetadataStore(settings: VastStoreSettings): VastMetadataStore {
  const transport = new VastTransport({
    endpoint: settings.endpoint,
    credentials: settings.credentials,
    ...(settings.region === undefined ? {} : { region: settings.region }),
    ...(settings.ca === undefined ? {} : { ca: settings.ca }),
    ...(settings.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: settings.requestTimeoutMs }),
  });
  const client = new VastClient({ transport, bucket: settings.bucket });
  return new VastMetadataStore({
    client,
    schema: settings.schema,
    onClose: () => transport.close(),
    ...(settings.commitPollMs === undefined ? {} : { commitPollMs: settings.commitPollMs }),
  });
}
