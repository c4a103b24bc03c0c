// Idle cameras decode keyframes only. A camera with no motion and no moving tracked object for a while needs no
// more than one picture per group of pictures to notice that something starts to move: decoding only keyframes
// costs a fraction of decoding every frame, and the demuxer still hands every packet to the recorder. On motion the
// source resumes full decoding at the next keyframe; the motion itself is seen at the first keyframe after it began,
// so the added delay to the first detection is at most one group of pictures.

export interface IdleDecodeOptions {
  enabled: boolean;
  /** Stream seconds without motion or a moving track before decoding drops to keyframes. */
  afterSeconds: number;
}

/** What the policy drives: MediaSource.setKeyframesOnly. */
export interface KeyframeSwitch {
  setKeyframesOnly(on: boolean): void;
}

export class IdleDecode {
  private lastActivePts = Number.NaN;
  private awakeUntilMs = 0;
  /** The mode last asked of `told` (a reconnected camera's new source starts decoding every frame). */
  private keyframesOnly = false;
  private told: KeyframeSwitch | undefined;

  constructor(readonly options: IdleDecodeOptions) {}

  /** Whether keyframes only were asked for at the last frame. */
  get idle(): boolean {
    return this.keyframesOnly;
  }

  /**
   * After each analysed frame: `active` when it had motion (or the motion detector was still calibrating) or a
   * tracked object was moving. Returns whether the source now decodes keyframes only.
   */
  update(active: boolean, pts: number, source: KeyframeSwitch | undefined, nowMs = Date.now()): boolean {
    // A timestamp that went back (a camera reconnected, a file looped without an offset) restarts the count.
    if (active || Number.isNaN(this.lastActivePts) || pts < this.lastActivePts) this.lastActivePts = pts;
    const want =
      this.options.enabled && nowMs >= this.awakeUntilMs && pts - this.lastActivePts >= this.options.afterSeconds;
    this.apply(want, source);
    return want;
  }

  /** Decode every frame for at least `ms` from now, at once (a live viewer wants a fluid picture). */
  wake(ms: number, source: KeyframeSwitch | undefined, nowMs = Date.now()): void {
    this.awakeUntilMs = Math.max(this.awakeUntilMs, nowMs + ms);
    this.apply(false, source ?? this.told);
  }

  private apply(want: boolean, source: KeyframeSwitch | undefined): void {
    if (!source || (want === this.keyframesOnly && source === this.told)) return;
    source.setKeyframesOnly(want);
    this.keyframesOnly = want;
    this.told = source;
  }
}
