// Flow control shared by the edge's client-streaming calls (clips, archive objects, datasets).
import { once } from 'node:events';

/** Waits for room in the call's buffer, or for its status (then the next write is moot). */
export async function drainedOrEnded(call: NodeJS.EventEmitter): Promise<void> {
  const ac = new AbortController();
  try {
    await Promise.race([once(call, 'drain', { signal: ac.signal }), once(call, 'status', { signal: ac.signal })]);
  } finally {
    ac.abort(); // removes the listener that did not fire
  }
}
