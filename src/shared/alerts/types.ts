// What an alert is, and what every notification channel implements. The edge raises alerts from its events and its
// cameras' health (it holds the rules and the frames); the owner's server raises the one alert only it can see, an edge
// gone silent. Both send through the same channels (src/shared/alerts/), each of which says what it reveals and to whom.

export const SEVERITIES = ['critical', 'warning', 'normal', 'false_positive'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Higher is more urgent; a channel sends alerts at or above its minimum. */
export const severityRank: Record<Severity, number> = { false_positive: 0, normal: 1, warning: 2, critical: 3 };

export const ALERT_KINDS = [
  'object', // a person, vehicle... event
  'unusual', // an anomaly event
  'tamper', // covered, defocused, moved, frozen
  'camera_offline',
  'recording_paused', // disk full, or the recorder failing
  'storage', // the disk is filling faster than retention frees it
  'edge_silent', // raised by the owner's server
  'summary', // more of an incident after its first alert
  'test', // "send a test alert" from the settings
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

/** One alert as channels receive it: text for people, fields for machines. No frame: a snapshot is asked for. */
export interface AlertMessage {
  id: string;
  kind: AlertKind;
  severity: Severity;
  /** "Person at Front door" */
  title: string;
  /** "person in driveway at 14:03:12; 2 more in the last 5 minutes" */
  message: string;
  createdMs: number;
  edgeId: string | null;
  cameraId: string | null;
  cameraName: string | null;
  labels: string[];
  zones: string[];
  eventIds: string[];
  /** Where the owner sees it (the event in the UI), or null. */
  url: string | null;
}

export const CHANNEL_NAMES = ['webhook', 'ntfy', 'email', 'webpush', 'mqtt'] as const;
export type ChannelName = (typeof CHANNEL_NAMES)[number];

/** A delivery that failed; `retryable` false gives up at once (a 4xx, a rejected address, a bad configuration). */
export class ChannelError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'ChannelError';
  }
}

export interface AlertChannel {
  readonly name: ChannelName;
  /** Said in the settings next to the channel: what leaves the box and who can read it. */
  readonly reveals: string;
  /**
   * Delivers one alert, or throws (a ChannelError says whether to retry). `snapshot` gives the event's JPEG when the
   * channel is configured to attach it (only then is it read); it resolves null when there is none.
   */
  send(alert: AlertMessage, snapshot: () => Promise<Buffer | null>): Promise<void>;
  close?(): Promise<void>;
}
