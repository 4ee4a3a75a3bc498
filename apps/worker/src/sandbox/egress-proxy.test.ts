import { describe, expect, it } from 'vitest';
import { isAllowed, parseAllowEntry } from './egress-proxy.ts';
import { parseNetworkSetting } from './sandbox.ts';

describe('the egress allow-list', () => {
  const rules = ['registry.npmjs.org', '*.pythonhosted.org', 'localhost:8080', '10.0.0.5', '[::1]:9000'].map(parseAllowEntry);

  it('allows listed names case-insensitively on 80 and 443, other ports only when listed', () => {
    expect(isAllowed(rules, 'registry.npmjs.org', 443)).toBe(true);
    expect(isAllowed(rules, 'Registry.NPMJS.org.', 80)).toBe(true);
    expect(isAllowed(rules, 'registry.npmjs.org', 8443)).toBe(false);
    expect(isAllowed(rules, 'localhost', 8080)).toBe(true);
    expect(isAllowed(rules, 'localhost', 443)).toBe(false);
    expect(isAllowed(rules, 'evil-registry.npmjs.org', 443)).toBe(false);
    expect(isAllowed(rules, 'registry.npmjs.org.evil.com', 443)).toBe(false);
  });

  it('matches a wildcard on subdomains only', () => {
    expect(isAllowed(rules, 'files.pythonhosted.org', 443)).toBe(true);
    expect(isAllowed(rules, 'a.b.pythonhosted.org', 443)).toBe(true);
    expect(isAllowed(rules, 'pythonhosted.org', 443)).toBe(false);
    expect(isAllowed(rules, 'notpythonhosted.org', 443)).toBe(false);
  });

  it('allows an IP literal only when it is listed, in any spelling', () => {
    expect(isAllowed(rules, '10.0.0.5', 443)).toBe(true);
    expect(isAllowed(rules, '0xa.0.0.5', 443)).toBe(true);
    expect(isAllowed(rules, '127.0.0.1', 8080)).toBe(false); // localhost is listed, its address is not
    expect(isAllowed(rules, '2130706433', 8080)).toBe(false);
    expect(isAllowed(rules, '[::1]', 9000)).toBe(true);
    expect(isAllowed(rules, '::1', 9000)).toBe(true);
    expect(isAllowed(rules, '[::1]', 443)).toBe(false);
    expect(isAllowed(rules, 'not a host', 443)).toBe(false);
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
