export { createTamsClient, type TamsClient, type TamsClientOptions } from './tams-client';
export { TamsGraphqlError, type GraphqlErrorEntry, type Operation, type RequestOptions, type TokenSource } from './graphql-request';
export type { ResumableSubscription, ResumableVariables, RetryOptions, SubscribeOptions } from './resumable-subscription';
export * from './generated/graphql';
