import { randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IosRegex, IosRegexError } from './iosRegex.ts';
import { parsePipe } from './pipe.ts';

const matches = (pattern: string, line: string): boolean => new IosRegex(pattern).test(line);

describe('IOS regular expressions', () => {
  it('agrees with a backtracking matcher on the operators the two dialects share', () => {
    const patterns = [
      'host', '^host', 'name$', '^$', 'a.c', 'ab*c', 'ab+c', 'ab?c', '(ab)+c', 'a|b', '^(ip|no ip) host', 'h1299(89|99) 127',
      '[0-9]+', '[^a-z ]', '[a-cx-z]+$', 'Gi[0-9]/[0-9]', '\\.', '1\\.1\\.1\\.1', '^\\s', '\\d\\d', '\\w+ \\S+$', '(a|ab)(c|bcd)(d*)',
      'x*', '(a*)*b', '^ (ip|shut)', 'in.*face', '[a-]', 'a(b|)c',
    ];
    const lines = ['hostname R1', 'interface Gi0/1', ' ip address 1.1.1.1', 'ip host h129989 127.0.0.9', 'no ip host x', '', 'abc', 'ac', 'abbbc', 'abcd', 'b', ']', '-', 'aaab', '12 ab', 'name'];
    for (const p of patterns) {
      const js = new RegExp(p);
      const ios = new IosRegex(p);
      for (const l of lines) expect([p, l, ios.test(l)]).toEqual([p, l, js.test(l)]);
    }
  });

  it('agrees on random lines over a small alphabet, with a pattern of 2^13 DFA states', () => {
    const p = `(a|b)*a${'(a|b)'.repeat(12)}c`;
    const js = new RegExp(p);
    const ios = new IosRegex(p);
    let matched = 0;
    for (let i = 0; i < 3000; i++) {
      let l = '';
      const n = randomInt(0, 80);
      for (let k = 0; k < n; k++) l += randomInt(0, 20) === 0 ? 'c' : 'ab'[randomInt(0, 2)];
      const expected = js.test(l);
      if (expected) matched++;
      expect([l, ios.test(l)]).toEqual([l, expected]);
    }
    expect(matched).toBeGreaterThan(100);
  });

  it('_ matches a space, comma, brace, parenthesis, or either end of the line', () => {
    expect(matches('_100_', 'as-path 65000 100 200')).toBe(true);
    expect(matches('_100_', 'as-path 65000 1000 200')).toBe(false);
    expect(matches('_100_', '100')).toBe(true);
    expect(matches('_100$', 'path {65000,100}')).toBe(false);
    expect(matches('_100_', 'path {65000,100}')).toBe(true);
    expect(matches('_100_', 'path (100)')).toBe(true);
    expect(matches('^_x', 'x')).toBe(true);
    expect(matches('a_', 'ab')).toBe(false);
    expect(matches('_', '')).toBe(true);
  });

  it('takes a ] first in a bracket as a member, as POSIX does', () => {
    expect(matches('[]a]', ']')).toBe(true);
    expect(matches('[]a]', 'b')).toBe(false);
    expect(matches('[^]]', ']')).toBe(false);
  });

  it('refuses what IOS refuses, naming where', () => {
    for (const [p, at] of [['(', 0], ['ab)', 2], ['a(b', 1], ['*a', 0], ['a|+', 2], ['[ab', 0], ['ab\\', 2], ['[z-a]', 0]] as const) {
      let err: unknown;
      try {
        new IosRegex(p);
      } catch (e) {
        err = e;
      }
      expect(err, p).toBeInstanceOf(IosRegexError);
      expect((err as IosRegexError).offset, p).toBe(at);
    }
  });

  it('matches patterns that make a backtracking matcher run for minutes, at once and correctly', () => {
    const long = 'a'.repeat(100_000);
    // Each of these takes a backtracking matcher exponential time in the number of a's.
    expect(matches('(a+)+$', `${long}b`)).toBe(false);
    expect(matches('^(a+)+$', long)).toBe(true);
    expect(matches('(a|a)*c', long)).toBe(false);
    expect(matches('((a*)*)*c', long)).toBe(false);
    expect(matches('(.*)*x', long)).toBe(false);
    expect(matches('(.*a){20}', 'a'.repeat(30))).toBe(false); // `{` is a literal in IOS's dialect
    expect(matches('(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)(.*a)x', long)).toBe(false);
  });

  it('sets the caret of | include under the character that breaks the pattern', () => {
    expect(parsePipe('show run | include ab)')).toEqual({ kind: 'invalid', column: 'show run | include ab'.length });
    expect(parsePipe('show run | include (')).toEqual({ kind: 'invalid', column: 'show run | include '.length });
  });
});
