import { redactUrl } from '../../../src/http/request-log-serializer';

describe('credentials redacted from logged URLs', () => {
  it.each([
    ['/flows?access_token=eyJ.abc.def', '/flows?access_token=[REDACTED]'],
    ['/flows?limit=1&access_token=eyJ.abc.def&page=x', '/flows?limit=1&access_token=[REDACTED]&page=x'],
    ['/flows?ACCESS_TOKEN=a&access_token=b', '/flows?ACCESS_TOKEN=[REDACTED]&access_token=[REDACTED]'],
    ['/flows?access_token=', '/flows?access_token=[REDACTED]'],
    // Encoded names the query parser decodes to access_token authenticate too: redacted alike.
    ['/flows?access%5Ftoken=eyJ.abc.def', '/flows?access_token=[REDACTED]'],
    ['/flows?%61ccess_token=eyJ.abc.def&limit=2', '/flows?access_token=[REDACTED]&limit=2'],
    ['/flows?%61%63%63%65%73%73%5f%74%6f%6b%65%6e=eyJ', '/flows?access_token=[REDACTED]'],
    ['/flows?my_access_token=keep', '/flows?my_access_token=keep'],
    ['/flows', '/flows'],
    // A signed media URL is a credential for its object, GET and PUT alike: no query logged.
    ['/media/ab/cd/ef?exp=1796577306&sig=abcdef0123', '/media/ab/cd/ef?[REDACTED]'],
    ['/media/x?sig=s&exp=1', '/media/x?[REDACTED]'],
    ['/media/x', '/media/x'],
  ])('%s', (url, logged) => {
    expect(redactUrl(url)).toBe(logged);
  });
});
