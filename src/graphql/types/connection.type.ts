import { Field, ObjectType } from 'type-graphql';
import { PageInfo } from './page-info.type';

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  nodes: T[];
  pageInfo: PageInfo;
}

/** A Relay connection type (`<Name>Connection` with `<Name>Edge`) over one node type. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- type-graphql names node types by their class (interfaces included)
export function connectionType(name: string, node: Function): new () => Connection<unknown> {
  // simpleResolvers: plain data, read by graphql's default resolver, not a type-graphql wrapper per field.
  @ObjectType(`${name}Edge`, { simpleResolvers: true })
  class EdgeType {
    @Field({ description: 'Opaque cursor: pass it as `after` to continue after this node.' })
    cursor!: string;

    @Field(() => node)
    node!: unknown;
  }

  @ObjectType(`${name}Connection`, { simpleResolvers: true })
  class ConnectionType {
    @Field(() => [EdgeType])
    edges!: EdgeType[];

    @Field(() => [node])
    nodes!: unknown[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }

  return ConnectionType;
}
