// Live pages re-read the API on a timer. The next read starts only after the previous one
// finished, so a slow server is never hit by overlapping requests.
import {ApiError} from './api.js';
import {clear, notice} from './dom.js';

export function poll(load, intervalMs) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    try {
      await load();
    } finally {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    }
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

// Shows what went wrong with the last read in el (or nothing after a good read). A 401 is
// not shown: it already sent the user to sign in.
export function showLoadError(el, error, {hadData = false} = {}) {
  clear(el);
  if (!error || (error instanceof ApiError && error.status === 401)) return;
  if (error instanceof ApiError && error.status === 0) {
    el.append(notice('error', 'The corral server is unreachable. Retrying',
      hadData ? '; the figures below are from the last successful read.' : '.'));
  } else {
    el.append(notice('error', error.message || String(error)));
  }
}
