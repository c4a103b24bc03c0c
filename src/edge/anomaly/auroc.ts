// Frame-level evaluation: the area under the ROC curve (the probability that a random anomalous frame scores above a
// random normal one, ties counting one half: the Mann–Whitney U statistic) and the rates at a fixed threshold.

/** AUROC of `scores` against 0/1 `labels`; null when either class is absent (the curve is undefined). */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<number | boolean>): number | null {
  const n = scores.length;
  if (labels.length !== n) throw new RangeError(`auroc: ${n} scores but ${labels.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    // A run of equal scores shares the mean of its ranks (1-based).
    let j = i;
    while (j + 1 < n && scores[order[j + 1] as number] === scores[order[i] as number]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++)
      if (labels[order[k] as number]) {
        positives++;
        rankSum += rank;
      }
    i = j + 1;
  }
  const negatives = n - positives;
  if (!positives || !negatives) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** True- and false-positive rates when a frame counts as anomalous at score > threshold. */
export function ratesAt(
  scores: ArrayLike<number>,
  labels: ArrayLike<number | boolean>,
  threshold: number,
): { tpr: number | null; fpr: number | null } {
  let tp = 0;
  let fp = 0;
  let p = 0;
  let n = 0;
  for (let i = 0; i < scores.length; i++) {
    const hit = (scores[i] as number) > threshold;
    if (labels[i]) {
      p++;
      if (hit) tp++;
    } else {
      n++;
      if (hit) fp++;
    }
  }
  return { tpr: p ? tp / p : null, fpr: n ? fp / n : null };
}
