// The wall clock, watched against the monotonic one. An appliance's clock jumps: NTP setting a box without a
// battery-backed clock from 1970 to today, an owner changing the date, a failing RTC. Retention deletes by wall-clock
// age, so a jump forward of weeks would delete every recording at the next sweep. A jump is seen as the wall clock
// moving apart from the monotonic clock; deletion by age then waits until the clock has been steady for a while
// (and the log says why), while everything else (recording, events) goes on with the new time.
import type { Logger } from './log.ts';

/** Wall and monotonic clocks may drift apart this much between two looks without it being a jump. */
const TOLERANCE_MS = 60_000;

export class ClockWatch {
  private wall: number;
  private mono: number;
  private steadySinceMono: number;
  /** The last jump seen (wall minus monotonic change), for status and logs. */
  lastJumpMs = 0;

  constructor(
    /** How long the clock must stay steady after a jump before deletion by age resumes. */
    private readonly settleMs = 10 * 60_000,
    private readonly log?: Logger,
    private readonly now: () => number = Date.now,
    private readonly monotonic: () => number = () => performance.now(),
  ) {
    this.wall = now();
    this.mono = monotonic();
    this.steadySinceMono = this.mono;
  }

  /** Looks at both clocks; true when the wall clock can be trusted to delete by age now. */
  steady(): boolean {
    const wall = this.now();
    const mono = this.monotonic();
    const jump = wall - this.wall - (mono - this.mono);
    this.wall = wall;
    this.mono = mono;
    if (Math.abs(jump) > TOLERANCE_MS) {
      this.lastJumpMs = jump;
      this.steadySinceMono = mono;
      this.log?.warn(
        { jumpSeconds: Math.round(jump / 1000) },
        `the clock jumped ${jump > 0 ? 'forward' : 'back'} by ${formatDuration(Math.abs(jump))}: deleting by age waits until it has been steady for ${formatDuration(this.settleMs)}`,
      );
    }
    return mono - this.steadySinceMono >= this.settleMs || this.lastJumpMs === 0;
  }
}

function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}
