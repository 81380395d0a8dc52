/** Bucket CORS rules against the origins the gateway serves (src/adapters/s3/s3-cors.ts). */
import { corsGaps, type CorsRule } from '../../../src/adapters/s3/s3-cors';

const APP = 'https://app.example.com';
const PUT_HEADERS = ['content-type'];

describe('corsGaps', () => {
  it('is empty when one rule allows GET and PUT with the headers from every origin', () => {
    const rules: CorsRule[] = [{ AllowedOrigins: [APP, 'https://ops.example.com'], AllowedMethods: ['GET', 'PUT', 'HEAD'], AllowedHeaders: ['*'] }];
    expect(corsGaps(rules, [APP, 'https://ops.example.com'], ['content-type', 'if-none-match'])).toEqual([]);
  });

  it('accepts GET and PUT from separate rules, wildcard origins and header patterns, any case', () => {
    const rules: CorsRule[] = [
      { AllowedOrigins: ['https://*.example.com'], AllowedMethods: ['get'] },
      { AllowedOrigins: ['HTTPS://APP.EXAMPLE.COM'], AllowedMethods: ['PUT'], AllowedHeaders: ['Content-*', 'If-None-Match'] },
    ];
    expect(corsGaps(rules, [APP], ['content-type', 'if-none-match'])).toEqual([]);
  });

  it('lists every origin and method left out when there are no rules', () => {
    expect(corsGaps([], [APP, 'http://localhost:3000'], PUT_HEADERS)).toEqual([
      `GET from ${APP}`,
      `PUT from ${APP} (headers content-type)`,
      'GET from http://localhost:3000',
      'PUT from http://localhost:3000 (headers content-type)',
    ]);
  });

  it('needs the PUT headers in the rule that allows PUT (S3 answers a preflight from one rule)', () => {
    const rules: CorsRule[] = [
      { AllowedOrigins: [APP], AllowedMethods: ['GET', 'PUT'] },
      { AllowedOrigins: [APP], AllowedMethods: ['GET'], AllowedHeaders: ['*'] },
    ];
    expect(corsGaps(rules, [APP], PUT_HEADERS)).toEqual([`PUT from ${APP} (headers content-type)`]);
    expect(corsGaps([{ AllowedOrigins: [APP], AllowedMethods: ['PUT'], AllowedHeaders: ['content-type'] }], [APP], ['content-type', 'if-none-match'])).toEqual([
      `GET from ${APP}`,
      `PUT from ${APP} (headers content-type, if-none-match)`,
    ]);
  });

  it('matches an origin exactly or by its one wildcard, and a gateway open to all needs a bucket open to all', () => {
    const rules: CorsRule[] = [{ AllowedOrigins: ['https://*.example.com'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'] }];
    expect(corsGaps(rules, ['https://example.org'], PUT_HEADERS)).toHaveLength(2);
    expect(corsGaps(rules, ['http://app.example.com'], PUT_HEADERS)).toHaveLength(2);
    expect(corsGaps(rules, ['*'], PUT_HEADERS)).toHaveLength(2);
    expect(corsGaps([{ AllowedOrigins: ['*'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['*'] }], ['*', APP], PUT_HEADERS)).toEqual([]);
  });
});
