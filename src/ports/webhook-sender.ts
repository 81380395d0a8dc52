/** One webhook POST: a JSON body to a URL, with the webhook's key header when it has one. */
export interface WebhookRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

/**
 * How a POST ended. `refused`: the URL's host resolved to an address webhooks may not reach
 * (nothing was sent); `redirect`: the receiver answered 3xx, which is never followed.
 */
export type WebhookResponse =
  | { ok: true; status: number }
  | { ok: false; kind: 'refused' | 'unresolved' | 'timeout' | 'network' | 'status' | 'redirect'; status?: number; address?: string; message: string };

export type WebhookSender = (request: WebhookRequest) => Promise<WebhookResponse>;
