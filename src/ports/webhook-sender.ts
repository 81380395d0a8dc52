/** One webhook POST: a JSON body to a URL, with the webhook's key header when it has one. */
export interface WebhookRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
  /**
   * Requests of one lane (a webhook's id) reach the receiver in the order they were sent, even
   * when several are in flight at once.
   */
  lane?: string;
}

/**
 * How a POST ended. `refused`: the URL's host resolved to an address webhooks may not reach
 * (nothing was sent); `redirect`: the receiver answered 3xx, which is never followed;
 * `unanswered`: the receiver closed the connection after answering earlier requests on it and
 * before answering this one, which was pipelined behind them (to send again at once, not a
 * failed attempt).
 */
export type WebhookResponse =
  | { ok: true; status: number }
  | { ok: false; kind: 'refused' | 'unresolved' | 'timeout' | 'network' | 'status' | 'redirect' | 'unanswered'; status?: number; address?: string; message: string };

export type WebhookSender = ((request: WebhookRequest) => Promise<WebhookResponse>) & {
  /** Closes what the sender keeps open (connections), once nothing more will be sent. */
  close?: () => Promise<void>;
};
