import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { TamsError } from '../domain/errors';
import { QueryLimits, checkQueryLimits } from './query-limits';

/** A registry error as Apollo wants it from a plugin: with its HTTP status (not 500). */
export function requestError(err: TamsError): GraphQLError {
  return new GraphQLError(err.message, { originalError: err, extensions: { code: err.graphqlCode, http: { status: err.status } } });
}

/** Refuses operations over the depth, cost, alias and page-size limits before any resolver runs. */
export function useQueryLimits<C extends object>(limits: QueryLimits): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request }) {
          if (operation === undefined) return;
          try {
            checkQueryLimits(document, operation, request.variables, limits);
          } catch (err) {
            if (err instanceof TamsError) throw requestError(err);
            throw err;
          }
        },
      };
    },
  };
}
