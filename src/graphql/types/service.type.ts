import { Field, ObjectType } from 'type-graphql';
import { GraphQLJSONObject } from 'graphql-scalars';
import type { StorageBackend as StorageBackendEntity, Tags } from '../../domain/entities';
import type { ServiceDescription } from '../../services/service-info-service';

@ObjectType({ description: 'The TAMS service (GET /service).' })
export class Service {
  @Field(() => String, { nullable: true })
  name?: string;

  @Field(() => String, { nullable: true })
  description?: string;

  @Field()
  type!: string;

  @Field()
  apiVersion!: string;

  @Field()
  serviceVersion!: string;

  @Field()
  minObjectTimeout!: string;

  @Field()
  minPresignedUrlTimeout!: string;
}

export function toService(d: ServiceDescription): Service {
  return {
    ...(d.name === undefined ? {} : { name: d.name }),
    ...(d.description === undefined ? {} : { description: d.description }),
    type: d.type,
    apiVersion: d.api_version,
    serviceVersion: d.service_version,
    minObjectTimeout: d.min_object_timeout,
    minPresignedUrlTimeout: d.min_presigned_url_timeout,
  };
}

@ObjectType({ description: 'A storage backend media objects can be stored in (GET /service/storage-backends).' })
export class StorageBackend {
  @Field()
  id!: string;

  @Field()
  label!: string;

  @Field()
  storeType!: string;

  @Field()
  provider!: string;

  @Field()
  storeProduct!: string;

  @Field(() => String, { nullable: true })
  region?: string;

  @Field(() => String, { nullable: true })
  availabilityZone?: string;

  @Field()
  defaultStorage!: boolean;

  @Field(() => GraphQLJSONObject, { nullable: true })
  tags?: Tags;
}

export function toStorageBackend(b: StorageBackendEntity): StorageBackend {
  return {
    id: b.id,
    label: b.label,
    storeType: b.store_type,
    provider: b.provider,
    storeProduct: b.store_product,
    ...(b.region === undefined ? {} : { region: b.region }),
    ...(b.availability_zone === undefined ? {} : { availabilityZone: b.availability_zone }),
    defaultStorage: b.default_storage,
    ...(b.tags === undefined ? {} : { tags: b.tags }),
  };
}
