/**
 * graphql-ws publishes `graphql-ws/use/ws` only through package.json `exports`, which the
 * project's `moduleResolution: node10` does not read (Node's require does). This points the
 * type checker at the same module's declarations.
 */
declare module 'graphql-ws/use/ws' {
  export * from 'graphql-ws/dist/use/ws';
}
