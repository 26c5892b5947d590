// A job's live log: a WebSocket to GET /api/v1/jobs/{id}/logs/stream (docs/api.md).
// Binary messages are log bytes, decoded with a streaming TextDecoder per attempt so a
// UTF-8 character split across two messages comes out whole; text messages are
// {"type":"attempt"|"lagged"|"end"}. ANSI colours become spans (text nodes only, never
// markup). The pane follows the end of the log until the user pauses it or scrolls up.
import {logStreamUrl} from './api.js';
import {AnsiParser, segmentClasses} from './ansi.js';
import {clear, h} from './dom.js';

const RECONNECT_MS = [1000, 2000, 5000, 10000];
// The pane keeps the last ~1.5-2 M characters: a huge log must not exhaust the tab.
const MAX_CHARS = 2_000_000;
const KEEP_CHARS = 1_500_000;
// The size of a log block (see appendToBlock), and the height of a line (style.css .log).
const BLOCK_CHARS = 64 * 1024;
const LINE_PX = 20;

// How much of text goes into a block with room characters left: all of it when it fits, else
// up to the last line end within room, else up to the end of the first line however long.
function takeLength(text, room) {
  if (text.length <= room) return text.length;
  let end = room > 0 ? text.lastIndexOf('\n', room - 1) : -1;
  if (end === -1) end = text.indexOf('\n');
  return end === -1 ? text.length : end + 1;
}

function countLines(text) {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n += 1;
  return n;
}

export class LogView {
  constructor(jobId, {onEnd} = {}) {
    this.jobId = jobId;
    this.onEnd = onEnd;
    this.following = true;
    this.ended = false;
    this.stopped = false;
    this.failures = 0;
    this.pre = h('pre', {class: 'log', id: 'log', tabindex: '0', 'aria-label': 'Job log', 'aria-live': 'off'});
    this.status = h('span', {class: 'log-status', id: 'log-status'}, 'connecting…');
    this.followButton = h('button', {class: 'btn btn-small', type: 'button', id: 'log-follow',
      'aria-pressed': 'true', onclick: () => this.setFollowing(!this.following)}, 'Pause auto-scroll');
    this.endBanner = h('div', {class: 'log-end', id: 'log-end', hidden: true});
    this.trimmedNote = h('div', {class: 'log-trimmed', hidden: true}, 'Earlier output is not shown here; ',
      h('code', {}, `corral logs ${jobId}`), ' prints the whole log.');
    this.element = h('section', {class: 'card log-card'},
      h('div', {class: 'log-toolbar'}, h('h2', {}, 'Log'), this.status, this.followButton),
      this.trimmedNote, this.pre, this.endBanner);
    // Scrolling up to read something pauses following; the button resumes it.
    this.pre.addEventListener('wheel', (e) => {
      if (e.deltaY < 0 && this.following) this.setFollowing(false);
    }, {passive: true});
  }

  start() {
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000);
  }

  setFollowing(on) {
    this.following = on;
    this.followButton.textContent = on ? 'Pause auto-scroll' : 'Resume auto-scroll';
    this.followButton.setAttribute('aria-pressed', on ? 'true' : 'false');
    if (on) this.scrollToEnd();
  }

  scrollToEnd() {
    this.pre.scrollTop = this.pre.scrollHeight;
  }

  connect() {
    // A reconnect starts over from byte 0: simpler than resuming, and a log is cheap to resend.
    clear(this.pre);
    this.chars = 0;
    this.trimmedNote.hidden = true;
    this.attempt = null;
    this.decoder = new TextDecoder('utf-8');
    this.parser = new AnsiParser();
    this.status.textContent = 'connecting…';
    const ws = new WebSocket(logStreamUrl(this.jobId));
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.failures = 0;
      this.status.textContent = 'live';
      this.status.dataset.state = 'live';
    };
    ws.onmessage = (event) => {
      if (typeof event.data === 'string') this.onControl(JSON.parse(event.data));
      else this.onBytes(new Uint8Array(event.data));
    };
    ws.onclose = () => {
      if (this.ws !== ws || this.stopped || this.ended) return;
      const delay = RECONNECT_MS[Math.min(this.failures, RECONNECT_MS.length - 1)];
      this.failures += 1;
      this.status.textContent = `disconnected; reconnecting in ${delay / 1000} s`;
      this.status.dataset.state = 'disconnected';
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
  }

  onControl(message) {
    if (message.type === 'attempt') {
      if (this.attempt !== null && message.attempt !== this.attempt) {
        this.write(this.decoder.decode());
        this.decoder = new TextDecoder('utf-8');
        this.parser = new AnsiParser();
        this.pre.append(h('div', {class: 'log-divider'}, `attempt ${message.attempt}`));
      }
      this.attempt = message.attempt;
    } else if (message.type === 'end') {
      this.write(this.decoder.decode());
      this.ended = true;
      this.status.textContent = 'ended';
      this.status.dataset.state = 'ended';
      const exit = message.exit_code === null || message.exit_code === undefined ? '' : ` · exit code ${message.exit_code}`;
      const reason = message.reason ? ` · ${message.reason}` : '';
      this.endBanner.hidden = false;
      this.endBanner.dataset.endState = message.state;
      this.endBanner.className = `log-end state-${message.state}`;
      this.endBanner.textContent = `Job ${message.state}${exit}${reason}`;
      if (this.onEnd) this.onEnd(message);
    }
    // "lagged": the server resumes from its store with nothing lost or repeated; no action.
  }

  onBytes(bytes) {
    this.write(this.decoder.decode(bytes, {stream: true}));
  }

  write(text) {
    if (!text) return;
    let added = 0;
    for (const segment of this.parser.push(text)) {
      const classes = segmentClasses(segment).join(' ');
      let rest = segment.text;
      while (rest) {
        const block = this.blockFor(rest.length);
        const take = takeLength(rest, BLOCK_CHARS - block.chars);
        const piece = rest.slice(0, take);
        block.append(classes ? h('span', {class: classes}, piece) : document.createTextNode(piece));
        block.chars += take;
        block.lines += countLines(piece);
        block.midLine = !piece.endsWith('\n');
        block.style.containIntrinsicSize = `auto ${Math.max(1, block.lines) * LINE_PX}px`;
        added += take;
        rest = rest.slice(take);
      }
    }
    this.chars += added;
    if (this.chars > MAX_CHARS) this.trim();
    if (this.following) this.scrollSoon();
  }

  // The log is a column of blocks of about BLOCK_CHARS characters, each laid out only while
  // it is on screen (content-visibility: auto, style.css .log-block). Laying out a 2 MB log
  // whole took seconds per message on a slow machine; with blocks the pane pays for what it
  // shows. A block ends at a line end (a line split between blocks would show as two), and
  // one never shown is sized from its line count.
  blockFor(length) {
    const last = this.pre.lastChild;
    if (last && last.classList.contains('log-block') &&
        (last.midLine || last.chars === 0 || last.chars + length <= BLOCK_CHARS)) return last;
    const block = h('div', {class: 'log-block'});
    Object.assign(block, {chars: 0, lines: 0, midLine: false});
    this.pre.append(block);
    return block;
  }

  // Scrolls to the end once per frame, however many messages arrive in it: reading
  // scrollHeight lays the pane out, and doing that per message made a 2 MB log take 40 s to
  // show.
  scrollSoon() {
    if (this.scrollFrame) return;
    this.scrollFrame = requestAnimationFrame(() => {
      this.scrollFrame = 0;
      if (this.following) this.scrollToEnd();
    });
  }

  trim() {
    while (this.chars > KEEP_CHARS && this.pre.firstChild) {
      const first = this.pre.firstChild;
      this.chars -= first.chars ?? 0;
      first.remove();
    }
    this.trimmedNote.hidden = false;
  }
}
