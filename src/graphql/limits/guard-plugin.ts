import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { TamsError } from '../../domain/errors';
import type { OperationGuard } from './operation-guard';

/** A registry error as Apollo wants it from a plugin: with its HTTP status (not 500). */
export function requestError(err: TamsError): GraphQLError {
  return new GraphQLError(err.message, { originalError: err, extensions: { code: err.graphqlCode, http: { status: err.status } } });
}

/**
 * Marks a context whose operation the guard has checked already (every HTTP request, before
 * Apollo). A symbol key: kept when Apollo copies the context for each operation.
 */
const GUARDED = Symbol('operation guarded');

export function guardedContext<C extends object>(context: C): C {
  return Object.assign(context, { [GUARDED]: true });
}

/**
 * The guard for operations that reach Apollo without HTTP (`app.graphql.server.executeOperation`
 * in operators' scripts and tests): the same limits, checked once Apollo has resolved the
 * operation. Over HTTP the guard has already run before Apollo parsed anything, and this
 * does nothing.
 */
export function useInProcessGuard<C extends object>(guard: OperationGuard): ApolloServerPlugin<C> {
  return {
    async requestDidStart({ contextValue }) {
      if ((contextValue as { [GUARDED]?: true })[GUARDED] === true) return;
      return {
        async didResolveOperation({ source, request }) {
          try {
            guard.check(source, request.operationName, request.variables);
          } catch (err) {
            if (err instanceof TamsError) throw requestError(err);
            throw err;
          }
        },
      };
    },
  };
}
