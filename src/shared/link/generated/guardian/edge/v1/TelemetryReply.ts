// Original file: proto/guardian/edge/v1/link.proto


export interface TelemetryReply {
  /**
   * healthy, unhealthy
   */
  'status'?: (string);
  'reasons'?: (string)[];
  /**
   * What the server wants the owner to know about this edge (e.g. a camera's archive past 80 % of its quota).
   */
  'warnings'?: (string)[];
}

export interface TelemetryReply__Output {
  /**
   * healthy, unhealthy
   */
  'status': (string);
  'reasons': (string)[];
  /**
   * What the server wants the owner to know about this edge (e.g. a camera's archive past 80 % of its quota).
   */
  'warnings': (string)[];
}
