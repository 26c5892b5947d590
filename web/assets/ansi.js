// Turns terminal output into styled segments: SGR colours 30-37/90-97 (foreground),
// 40-47/100-107 (background), bold, and resets are kept; every other escape sequence
// (cursor moves, 256/true colours, OSC titles and links) and control character is dropped.
// Pure (no DOM), so it runs under node:test too. The caller renders segments as text nodes.
//
//   const parser = new AnsiParser();
//   parser.push('\x1b[31mred\x1b[0m plain') -> [{text: 'red', fg: 31, bg: null, bold: false},
//                                                {text: ' plain', fg: null, bg: null, bold: false}]
//
// An escape sequence cut in two by a chunk boundary is held back until the rest arrives.

const ESC = '\x1b';
// An unterminated sequence longer than this is not one; its text is shown after all.
const MAX_PENDING = 4096;
// What is shown: newlines, tabs and printable characters. Other C0 controls (ESC among them)
// and DEL end a run; \r is dropped, so a progress bar's redraws become one line each
// instead of garbage.
const TEXT_RUN = /[^\x00-\x08\x0b-\x1f\x7f]+/y;

export class AnsiParser {
  constructor() {
    this.fg = null;
    this.bg = null;
    this.bold = false;
    this.pending = '';
  }

  push(text) {
    const input = this.pending + text;
    this.pending = '';
    const segments = [];
    let plain = '';
    const flush = () => {
      if (plain) segments.push({text: plain, fg: this.fg, bg: this.bg, bold: this.bold});
      plain = '';
    };
    let i = 0;
    while (i < input.length) {
      // A run of text is taken whole (a 2 MB log is a handful of runs, not 2 M steps).
      TEXT_RUN.lastIndex = i;
      if (TEXT_RUN.test(input)) {
        plain += input.slice(i, TEXT_RUN.lastIndex);
        i = TEXT_RUN.lastIndex;
        continue;
      }
      if (input[i] !== ESC) {  // another control character: dropped
        i += 1;
        continue;
      }
      const end = sequenceEnd(input, i);
      if (end === -1 && input.length - i > MAX_PENDING) {  // never terminated: drop the ESC
        i += 1;
        continue;
      }
      if (end === -1) {  // incomplete: wait for the next chunk
        this.pending = input.slice(i);
        break;
      }
      const seq = input.slice(i, end);
      if (seq[1] === '[' && seq.endsWith('m')) {
        flush();
        this.applySgr(seq.slice(2, -1));
      }
      i = end;
    }
    flush();
    return segments;
  }

  applySgr(params) {
    const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
    for (let k = 0; k < codes.length; k += 1) {
      const n = codes[k];
      if (n === 0) {
        this.fg = null;
        this.bg = null;
        this.bold = false;
      } else if (n === 1) {
        this.bold = true;
      } else if (n === 22) {
        this.bold = false;
      } else if ((n >= 30 && n <= 37) || (n >= 90 && n <= 97)) {
        this.fg = n;
      } else if (n === 39) {
        this.fg = null;
      } else if ((n >= 40 && n <= 47) || (n >= 100 && n <= 107)) {
        this.bg = n;
      } else if (n === 49) {
        this.bg = null;
      } else if (n === 38 || n === 48) {
        // 256 colours (38;5;n) and true colour (38;2;r;g;b) are skipped whole, so their
        // numbers are not mistaken for other codes.
        k += codes[k + 1] === 5 ? 2 : codes[k + 1] === 2 ? 4 : 0;
      }
    }
  }
}

// The index just past the escape sequence starting at input[start] (an ESC), or -1 when
// the input ends before the sequence does.
function sequenceEnd(input, start) {
  if (start + 1 >= input.length) return -1;
  const kind = input[start + 1];
  if (kind === '[') {  // CSI: parameters and intermediates, then a final byte 0x40-0x7e
    for (let j = start + 2; j < input.length; j += 1) {
      const code = input.charCodeAt(j);
      if (code >= 0x40 && code <= 0x7e) return j + 1;
      if (code < 0x20 || code > 0x3f) return j;  // malformed: drop what we saw
    }
    return -1;
  }
  if (kind === ']' || kind === 'P' || kind === '_' || kind === '^') {  // OSC/DCS/..: until BEL or ST
    for (let j = start + 2; j < input.length; j += 1) {
      if (input[j] === '\x07') return j + 1;
      if (input[j] === ESC && j + 1 < input.length) return input[j + 1] === '\\' ? j + 2 : j;
    }
    return -1;
  }
  return start + 2;  // a two-character escape such as ESC c or ESC =
}

// CSS classes for a segment (style.css defines .fg-31, .bg-41, .ansi-bold, ...).
export function segmentClasses(segment) {
  const classes = [];
  if (segment.fg !== null) classes.push(`fg-${segment.fg}`);
  if (segment.bg !== null) classes.push(`bg-${segment.bg}`);
  if (segment.bold) classes.push('ansi-bold');
  return classes;
}
