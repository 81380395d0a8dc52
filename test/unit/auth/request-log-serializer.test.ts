import { redactAccessToken } from '../../../src/http/request-log-serializer';

describe('access_token redaction in logged URLs', () => {
  it.each([
    ['/flows?access_token=eyJ.abc.def', '/flows?access_token=[REDACTED]'],
    ['/flows?limit=1&access_token=eyJ.abc.def&page=x', '/flows?limit=1&access_token=[REDACTED]&page=x'],
    ['/flows?ACCESS_TOKEN=a&access_token=b', '/flows?ACCESS_TOKEN=[REDACTED]&access_token=[REDACTED]'],
    ['/flows?access_token=', '/flows?access_token=[REDACTED]'],
    ['/flows?my_access_token=keep', '/flows?my_access_token=keep'],
    ['/flows', '/flows'],
  ])('%s', (url, logged) => {
    expect(redactAccessToken(url)).toBe(logged);
  });
});
