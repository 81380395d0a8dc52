/**
 * AWS Signature Version 4 for VAST requests, as the public Java client signs them (its
 * VastRequestBuilder over the AWS SDK v1 AWS4Signer; the signatures in its tests reproduce here,
 * test/unit/vast-request-signer.test.ts):
 *
 * - service `s3`; the region is configurable. The public clients disagree (the Java client
 *   defaults to `vast`, the Python SDK has sent `''` since 2024, earlier `us-east-1`), so a
 *   cluster evidently takes the region from the Credential scope: inferred, not observed. An
 *   empty region stays empty (the `aws4` package would rewrite it);
 * - signed headers: `host`, `x-amz-content-sha256`, `x-amz-date`, nothing else. The `tabular-*`
 *   headers are sent unsigned, as both public clients send them;
 * - the payload hash is the SHA-256 of the body (of nothing for no body), never
 *   `UNSIGNED-PAYLOAD`, and is sent as `x-amz-content-sha256`;
 * - the path is signed as sent (request-target.ts only builds paths that need no escaping) and
 *   the query as SigV4 canonicalises it: a bare verb is `verb=`.
 *
 * The secret lives only inside the smithy signer's credential closure, behind a #private field:
 * it is never logged, inspected or put in an error.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256, sha256Hex } from './node-sha256';

export interface VastCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface RequestToSign {
  method: string;
  /** The Host header as it will be sent. */
  host: string;
  /** The path as it will be sent. */
  path: string;
  /** Every query key with its unescaped value (`''` for a bare verb). */
  query: Readonly<Record<string, string>>;
  body: Uint8Array | undefined;
  date: Date;
}

/** The headers that make a request signed; `host` and the content hash are sent as given here. */
export interface SigningHeaders {
  host: string;
  'x-amz-date': string;
  'x-amz-content-sha256': string;
  authorization: string;
}

export class VastRequestSigner {
  readonly #signer: SignatureV4;

  constructor(credentials: VastCredentials, region: string) {
    if (credentials.accessKeyId.trim() === '' || credentials.secretAccessKey.trim() === '') {
      throw new Error('VAST access key and secret key must not be empty');
    }
    // The access key goes into the Credential field as is: a separator would corrupt it.
    if (/[\s/,=]/.test(credentials.accessKeyId)) throw new Error('a VAST access key must not contain spaces, "/", "," or "="');
    if (/[\s/]/.test(region)) throw new Error('a VAST signing region must not contain spaces or "/"');
    const { accessKeyId, secretAccessKey } = credentials;
    this.#signer = new SignatureV4({
      credentials: { accessKeyId, secretAccessKey },
      region,
      service: 's3',
      sha256: NodeSha256,
      // The path is already what goes on the wire and needs no escaping (request-target.ts).
      uriEscapePath: false,
      applyChecksum: true,
    });
  }

  async sign(request: RequestToSign): Promise<SigningHeaders> {
    const payloadHash = sha256Hex(request.body);
    const signed = await this.#signer.sign(
      {
        method: request.method,
        protocol: 'https:',
        hostname: request.host,
        path: request.path,
        query: { ...request.query },
        headers: { host: request.host, 'x-amz-content-sha256': payloadHash },
      },
      { signingDate: request.date },
    );
    const date = signed.headers['x-amz-date'];
    const authorization = signed.headers['authorization'];
    if (date === undefined || authorization === undefined) throw new Error('the SigV4 signer returned no Authorization or X-Amz-Date');
    return { host: request.host, 'x-amz-date': date, 'x-amz-content-sha256': payloadHash, authorization };
  }
}
