import type { ApolloServerPlugin } from '@apollo/server';
import type { OperationTypeNode } from 'graphql';

/** One GraphQL operation over HTTP, as an observer (metrics, traces) follows it. */
export interface OperationWatch {
  /** The operation was found and validated: its type, and its name (null when anonymous). */
  resolved(type: OperationTypeNode, name: string | null): void;
  /** The response is about to go out, with the errors it carries (undefined or empty: none). */
  finished(errors: readonly { message: string }[] | undefined): void;
}

/**
 * Starts watching an operation when its request reaches GraphQL. Both ways an HTTP operation
 * is answered call it: Apollo's pipeline (through {@link observerPlugin}) and the
 * prepared-query path (prepared-queries.ts), so neither goes unmeasured.
 */
export type OperationObserver = () => OperationWatch;

/** An observer as an Apollo plugin. */
export function observerPlugin<C extends object>(observer: OperationObserver): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      const watch = observer();
      return {
        async didResolveOperation({ operation, operationName }) {
          if (operation !== undefined) watch.resolved(operation.operation, operationName);
        },
        async willSendResponse({ errors }) {
          watch.finished(errors);
        },
      };
    },
  };
}
