/**
 * Cursor moves of the webhooks being delivered, written together: every move asked for while
 * the event loop goes round once (the answers of several webhooks' POSTs arriving together)
 * goes to the store in one write (advanceWebhookCursors), not one transaction per webhook and
 * event. Each caller still learns whether its own compare-and-set held.
 */
import type { MetadataStore } from '../ports/metadata-store';
import type { CursorMove } from '../ports/webhook-delivery';

interface Pending {
  move: CursorMove;
  resolve: (moved: boolean) => void;
  reject: (error: unknown) => void;
}

export class CursorWrites {
  private pending: Pending[] = [];
  private scheduled = false;

  constructor(private readonly store: Pick<MetadataStore, 'advanceWebhookCursors'>) {}

  /** Moves a webhook's cursor from `from` to `to` (false when it was not `from` any more). */
  advance(id: string, from: number, to: number): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ move: { id, from, to }, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    this.store.advanceWebhookCursors(batch.map((p) => p.move)).then(
      (moved) => batch.forEach((p, i) => p.resolve(moved[i] === true)),
      (error: unknown) => batch.forEach((p) => p.reject(error)),
    );
  }
}
