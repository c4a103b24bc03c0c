// Batching across cameras: frames of several cameras that wait for the same model run as one batch. Nothing is held
// back to form a batch (that would add latency): while an inference runs, the frames that arrive queue up, and the
// next run takes them all at once, in the largest batch models there are (1, 2, 4, ...: batch-N copies of the
// model made by withBatchSize, each a session of its own). One camera alone never waits for anyone.
import type { InferenceBackend, OutputTensor } from './types.ts';

interface Waiting {
  input: Float32Array;
  size: number;
  resolve: (outputs: OutputTensor[]) => void;
  reject: (err: unknown) => void;
}

export interface BatchStats {
  /** Images inferred, and the runs that took them (images / runs = mean batch). */
  images: number;
  runs: number;
  /** Runs per batch size. */
  bySize: Record<number, number>;
}

/**
 * One backend over `single` (batch 1) and batch-N copies of the same model (`batched`, keyed by N). Calls are
 * serialised: one inference at a time, as one backend's threads already use the cores it was given.
 */
export function batchingBackend(
  single: InferenceBackend,
  batched: Map<number, InferenceBackend>,
): InferenceBackend & { readonly batchStats: BatchStats } {
  const sizes = [...batched.keys()].filter((n) => n > 1).sort((a, b) => b - a);
  const queue: Waiting[] = [];
  const stats: BatchStats = { images: 0, runs: 0, bySize: {} };
  let running = false;

  const runGroup = async (group: Waiting[]) => {
    const n = group.length;
    stats.images += n;
    stats.runs++;
    stats.bySize[n] = (stats.bySize[n] ?? 0) + 1;
    const first = group[0] as Waiting;
    try {
      if (n === 1) return first.resolve(await single.run(first.input, first.size));
      const per = first.input.length;
      const input = new Float32Array(per * n);
      group.forEach((w, i) => input.set(w.input, i * per));
      const outputs = await (batched.get(n) as InferenceBackend).run(input, first.size, n);
      // Each image's share of every output: the first axis is the batch.
      group.forEach((w, i) =>
        w.resolve(
          outputs.map((o) => {
            const share = o.data.length / n;
            return { data: o.data.subarray(i * share, (i + 1) * share), dims: [1, ...o.dims.slice(1)] };
          }),
        ),
      );
    } catch (err) {
      for (const w of group) w.reject(err);
    }
  };

  const drain = async () => {
    running = true;
    try {
      while (queue.length) {
        // Same-size inputs only in one batch (a model has one input size; a stray one runs alone).
        const size = (queue[0] as Waiting).size;
        const same = queue.filter((w) => w.size === size);
        const n = sizes.find((s) => s <= same.length) ?? 1;
        const group = same.slice(0, n);
        for (const w of group) queue.splice(queue.indexOf(w), 1);
        await runGroup(group);
      }
    } finally {
      running = false;
    }
  };

  return {
    name: single.name,
    device: single.device,
    batchStats: stats,
    run(input: Float32Array, size: number, batch = 1): Promise<OutputTensor[]> {
      if (batch !== 1) return single.run(input, size, batch);
      return new Promise((resolve, reject) => {
        queue.push({ input, size, resolve, reject });
        if (!running) void drain();
      });
    },
    async close() {
      await Promise.all([single.close(), ...[...batched.values()].map((b) => b.close())]);
    },
  };
}
