// The dashboard's ANSI parser (web/assets/ansi.js) is DOM-free: tested here directly.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {AnsiParser, segmentClasses} from '../../web/assets/ansi.js';

const plain = (text) => ({text, fg: null, bg: null, bold: false});

test('keeps SGR colours and bold, and resets', () => {
  const parser = new AnsiParser();
  assert.deepEqual(parser.push('\x1b[1;31merror\x1b[0m ok \x1b[92;44mhi\x1b[39mx\x1b[22;49m.'), [
    {text: 'error', fg: 31, bg: null, bold: true},
    plain(' ok '),
    {text: 'hi', fg: 92, bg: 44, bold: false},
    {text: 'x', fg: null, bg: 44, bold: false},
    plain('.'),
  ]);
});

test('drops other escapes, 256 and true colours, and control characters', () => {
  const parser = new AnsiParser();
  const out = parser.push('a\x1b[2Kb\x1b]0;title\x07c\x1b[38;5;1md\x1b[38;2;1;2;3;1me\r\n\x00\x08f\x1b=g');
  assert.equal(out.map((s) => s.text).join(''), 'abcde\nfg');
  // 38;5;1 must not be read as bold (1); 38;2;1;2;3 then 1 is bold.
  assert.deepEqual(out.find((s) => s.text.startsWith('d')), {text: 'd', fg: null, bg: null, bold: false});
  assert.equal(out.find((s) => s.text.startsWith('e')).bold, true);
});

test('an escape split across chunks is held back until it completes', () => {
  const parser = new AnsiParser();
  assert.deepEqual(parser.push('one\x1b[3'), [plain('one')]);
  assert.deepEqual(parser.push('2mtwo'), [{text: 'two', fg: 32, bg: null, bold: false}]);
});

test('an unterminated escape does not swallow the rest of the log', () => {
  const parser = new AnsiParser();
  const out = parser.push('\x1b]' + 'x'.repeat(5000));
  assert.equal(out.map((s) => s.text).join('').length, 5001);  // ']' and the x's
});

test('markup is text, never HTML', () => {
  const parser = new AnsiParser();
  assert.deepEqual(parser.push('<img src=x onerror=alert(1)>'), [plain('<img src=x onerror=alert(1)>')]);
});

test('segment classes name the colours', () => {
  assert.deepEqual(segmentClasses({text: 'x', fg: 31, bg: 42, bold: true}), ['fg-31', 'bg-42', 'ansi-bold']);
  assert.deepEqual(segmentClasses(plain('x')), []);
});
