import { Field, ObjectType } from 'type-graphql';
import type { Principal as PrincipalEntity } from '../../domain/principal';

@ObjectType('Principal', { description: 'The caller, as the gateway authenticated it.' })
export class PrincipalType {
  @Field({ description: "The token's subject or the user name ('development' when authentication is off)." })
  subject!: string;

  @Field(() => [String], { description: 'TAMS scopes: read, write, delete, admin.' })
  scopes!: string[];

  @Field(() => [String], { description: 'Auth classes (ADR 0035) the caller belongs to.' })
  authClasses!: string[];

  @Field({ description: 'none, bearer, access_token or basic.' })
  method!: string;

  @Field()
  authenticated!: boolean;
}

export function toPrincipal(p: PrincipalEntity): PrincipalType {
  return { subject: p.subject, scopes: [...p.scopes], authClasses: [...p.authClasses], method: p.method, authenticated: p.authenticated };
}
