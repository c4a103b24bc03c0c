// How much an event matters: the owner's rules (camera, label, zone, armed or night, dwell time), first match wins.
// Times are the appliance's local time, as the owner thinks of them ("armed from 23:00").
import type { AlertsConfig, SeverityRule } from '../../shared/alerts/config.ts';
import type { Severity } from '../../shared/alerts/types.ts';

const DAY_INDEX = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } as const;

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether `ms` falls in [from, to) of a day, `to` before `from` running into the next morning. */
function inWindow(ms: number, from: string, to: string, days?: readonly (keyof typeof DAY_INDEX)[]): boolean {
  const d = new Date(ms);
  const now = d.getHours() * 60 + d.getMinutes();
  const f = minutesOf(from);
  const t = minutesOf(to);
  const startedOn = (day: number) => !days || days.some((x) => DAY_INDEX[x] === day);
  if (f <= t) return now >= f && now < t && startedOn(d.getDay());
  // Overnight: the evening part started today, the morning part yesterday.
  if (now >= f) return startedOn(d.getDay());
  return now < t && startedOn((d.getDay() + 6) % 7);
}

export function isArmed(config: AlertsConfig, ms: number): boolean {
  if (config.armed !== 'schedule') return config.armed === 'armed';
  return config.schedule.some((w) => inWindow(ms, w.from, w.to, w.days));
}

export function isNight(config: AlertsConfig, ms: number): boolean {
  return inWindow(ms, config.night.from, config.night.to);
}

export interface RatedEvent {
  cameraId: string;
  label: string;
  zones: string[];
  /** How long the object has been seen so far. */
  dwellSeconds: number;
  atMs: number;
}

function matches(r: SeverityRule, e: RatedEvent, config: AlertsConfig): boolean {
  if (r.cameras.length && !r.cameras.includes(e.cameraId)) return false;
  if (r.labels.length && !r.labels.includes(e.label)) return false;
  if (r.zones.length && !e.zones.some((z) => r.zones.includes(z))) return false;
  if (e.dwellSeconds < r.minDwellSeconds) return false;
  switch (r.when) {
    case 'armed':
      return isArmed(config, e.atMs);
    case 'disarmed':
      return !isArmed(config, e.atMs);
    case 'night':
      return isNight(config, e.atMs);
    case 'day':
      return !isNight(config, e.atMs);
    default:
      return true;
  }
}

/** The severity of an event now, and the index of the rule that gave it (null: no rule matched, normal). */
export function rateEvent(config: AlertsConfig, e: RatedEvent): { severity: Severity; rule: number | null } {
  const i = config.rules.findIndex((r) => matches(r, e, config));
  return i < 0 ? { severity: 'normal', rule: null } : { severity: config.rules[i]?.severity ?? 'normal', rule: i };
}
