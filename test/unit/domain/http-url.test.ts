import { isHttpUrl } from '../../../src/domain/http-url';

describe('isHttpUrl', () => {
  it.each(['http://a.example/x', 'https://a.example:8443/x?y=1', 'http://127.0.0.1/x', 'https://[::1]/x'])('accepts %s', (url) => {
    expect(isHttpUrl(url)).toBe(true);
  });
  it.each(['javascript:alert(1)', 'JAVASCRIPT:alert(1)', 'file:///etc/passwd', 'data:text/html,<script>', 'ftp://a.example/x', 'gopher://169.254.169.254/', '//a.example/x', '/relative', '', 'http://', 'vbscript:msgbox'])('refuses %s', (url) => {
    expect(isHttpUrl(url)).toBe(false);
  });
});
