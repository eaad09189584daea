/** The link rule (src/exchange/links.ts): opts.link and link-like email vars. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { linkProblem, varLinkProblem, varsLinkProblems } from '../../src/exchange/links.js';

const none = new Set<string>();
const myapp = new Set(['myapp']);

describe('linkProblem', () => {
  it('accepts http and https, and configured app schemes only', () => {
    for (const link of ['https://shop.example/o/1', 'http://localhost:3000/x', 'HTTPS://SHOP.EXAMPLE']) assert.equal(linkProblem(link, none), undefined, link);
    assert.equal(linkProblem('myapp://orders/1', myapp), undefined);
    assert.match(linkProblem('myapp://orders/1', none) ?? '', /not accepted.*HERALD_LINK_SCHEMES/);
    assert.match(linkProblem('otherapp://x', myapp) ?? '', /otherapp/);
    assert.match(linkProblem('no scheme', none) ?? '', /absolute URL/);
  });

  it('refuses javascript, data, vbscript and file always, however spelt, even when configured', () => {
    const configured = new Set(['javascript', 'data', 'vbscript', 'file']);
    for (const link of [
      'javascript:alert(1)',
      'JavaScript:alert(1)',
      ' \u0001javascript:alert(1)',
      'java\tscript:alert(1)',
      'java\nscript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
    ]) {
      assert.match(linkProblem(link, configured) ?? '', /never accepted/, JSON.stringify(link));
    }
  });
});

describe('varLinkProblem', () => {
  it('leaves prose, times and numbers alone', () => {
    for (const text of ['Note: bring ID', '10:30', 'Re: hello', 'hello', '', 'ratio 3:2', 'a:']) assert.equal(varLinkProblem(text, none), undefined, text);
  });

  it('holds a value that starts with a scheme to the link rule', () => {
    assert.equal(varLinkProblem('https://shop.example/o/1', none), undefined);
    assert.equal(varLinkProblem('myapp://x', myapp), undefined);
    assert.match(varLinkProblem('myapp://x', none) ?? '', /myapp/);
    assert.match(varLinkProblem('mailto:a@b.example', none) ?? '', /mailto/);
    assert.equal(varLinkProblem('mailto:a@b.example', new Set(['mailto'])), undefined);
  });

  it('refuses the dangerous schemes even with a space after the colon', () => {
    for (const text of ['javascript:alert(1)', 'javascript: alert(1)', ' JAVASCRIPT:void(0)', 'data: text/html,x', 'vbscript:x', 'file:///x']) {
      assert.match(varLinkProblem(text, none) ?? '', /never accepted/, text);
    }
  });
});

describe('varsLinkProblems', () => {
  it('walks nested objects and arrays and names each offending path', () => {
    const vars = {
      name: 'Ada',
      when: '10:30',
      site: 'https://ok.example',
      cta: 'javascript:alert(1)',
      items: [{ link: 'https://ok.example/1' }, { link: 'data:text/html,x' }],
      deep: { deeper: { href: 'vbscript:x' } },
      count: 3,
    };
    assert.deepEqual(varsLinkProblems(vars, none, 'opts.email.vars'), [
      { path: 'opts.email.vars.cta', message: 'javascript: links are never accepted' },
      { path: 'opts.email.vars.deep.deeper.href', message: 'vbscript: links are never accepted' },
      { path: 'opts.email.vars.items.1.link', message: 'data: links are never accepted' },
    ]);
  });
});
