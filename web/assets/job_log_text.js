// A job's log as text, read with GET /api/v1/jobs/{id}/logs?offset= and grown by each
// refresh() (the workflow run page calls it on its 2 s poll while the job runs). Bytes go
// through a streaming TextDecoder, so a UTF-8 character cut by a read boundary comes out
// whole. The latest attempt is followed: when the job is retried, the text starts over.
import {api} from './api.js';

export class JobLogText {
  constructor(jobId) {
    this.jobId = jobId;
    this.reset(null);
  }

  reset(attempt) {
    this.attempt = attempt;
    this.offset = 0;
    this.text = '';
    this.complete = false;
    this.decoder = new TextDecoder('utf-8');
  }

  // Reads what is new; answers whether the text changed. Calls made while a read is under
  // way share it (two reads from one offset would add the same bytes twice).
  refresh() {
    this.reading ??= this.read().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  async read() {
    let changed = false;
    for (let reads = 0; reads < 16; reads++) {
      const chunk = await api.jobLog(this.jobId, this.offset);
      if (chunk.attempt !== this.attempt) {
        const readFromZero = this.offset === 0;
        changed = changed || this.text !== '';
        this.reset(chunk.attempt);
        if (!readFromZero) continue;  // the bytes were the new attempt's from our old offset
      }
      if (chunk.bytes.length) {
        this.text += this.decoder.decode(chunk.bytes, {stream: true});
        changed = true;
      }
      this.offset = chunk.nextOffset;
      this.complete = chunk.complete && this.offset >= chunk.size;
      if (this.complete) this.text += this.decoder.decode();
      if (this.offset >= chunk.size || chunk.bytes.length === 0) break;
    }
    return changed;
  }
}
