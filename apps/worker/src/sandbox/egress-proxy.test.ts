import { describe, expect, it } from 'vitest';
import { isAllowed, parseAllowEntry } from './egress-proxy.ts';
import { parseNetworkSetting } from './sandbox.ts';

describe('the egress allow-list', () => {
  const rules = ['registry.npmjs.org', '*.pythonhosted.org', 'localhost:8080', '10.0.0.5', '[::1]:9000'].map(parseAllowEntry);

  // [host as the client spelled it, port, allowed]
  const cases: Array<[string, number, boolean, string]> = [
    ['registry.npmjs.org', 443, true, 'a listed name on 443'],
    ['Registry.NPMJS.org.', 80, true, 'in any case, with a trailing dot, on 80'],
    ['registry.npmjs.org', 8443, false, 'a listed name on an unlisted port'],
    ['localhost', 8080, true, 'a name listed with its port'],
    ['localhost', 443, false, 'a name listed with a port, on another one'],
    ['evil-registry.npmjs.org', 443, false, 'a name that only ends like a listed one'],
    ['registry.npmjs.org.evil.com', 443, false, 'a listed name as a prefix'],
    ['files.pythonhosted.org', 443, true, 'a subdomain of a wildcard'],
    ['a.b.pythonhosted.org', 443, true, 'a deeper subdomain of a wildcard'],
    ['pythonhosted.org', 443, false, "a wildcard's own domain"],
    ['notpythonhosted.org', 443, false, "a name that only ends like a wildcard's domain"],
    ['10.0.0.5', 443, true, 'a listed IP literal'],
    ['0xa.0.0.5', 443, true, 'a listed IP literal spelled otherwise'],
    ['127.0.0.1', 8080, false, 'the address of a listed name'],
    ['2130706433', 8080, false, 'the address of a listed name, as one number'],
    ['[::1]', 9000, true, 'a listed IPv6 literal in brackets'],
    ['::1', 9000, true, 'a listed IPv6 literal bare'],
    ['[::1]', 443, false, 'a listed IPv6 literal on another port'],
    ['not a host', 443, false, 'no host at all'],
  ];
  it.each(cases)('%s:%i → %s (%s)', (host, port, allowed) => {
    expect(isAllowed(rules, host, port)).toBe(allowed);
  });

  it('rejects entries that are not a host, naming them', () => {
    for (const entry of ['https://pypi.org', 'pypi.org/simple', '*', '*.com', 'pypi.org:0', 'pypi.org:70000', '[pypi.org]', 'a..b', '-x.org']) {
      expect(() => parseAllowEntry(entry), entry).toThrow(/egress allow-list entry .*expected host, \*\.domain/);
    }
  });
});

describe('parseNetworkSetting (PITCREW_FIX_NETWORK)', () => {
  it('reads off, empty, and comma-separated hosts (trimmed, lower-cased, once each)', () => {
    expect(parseNetworkSetting('off')).toBe('off');
    expect(parseNetworkSetting(' OFF ')).toBe('off');
    expect(parseNetworkSetting('')).toBe('off');
    expect(parseNetworkSetting('registry.npmjs.org, PyPI.org,files.pythonhosted.org,pypi.org,')).toEqual({ allow: ['registry.npmjs.org', 'pypi.org', 'files.pythonhosted.org'] });
  });

  it('throws a clear Error on host and on a bad entry', () => {
    expect(() => parseNetworkSetting('host')).toThrow(/"host" is not accepted here/);
    expect(() => parseNetworkSetting(',')).toThrow(/no host in it/);
    expect(() => parseNetworkSetting('pypi.org,https://registry.npmjs.org')).toThrow(/"https:\/\/registry.npmjs.org"/);
  });
});
