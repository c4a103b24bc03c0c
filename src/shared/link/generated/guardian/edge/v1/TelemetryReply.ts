// Original file: proto/guardian/edge/v1/link.proto


export interface TelemetryReply {
  /**
   * healthy, unhealthy
   */
  'status'?: (string);
  'reasons'?: (string)[];
}

export interface TelemetryReply__Output {
  /**
   * healthy, unhealthy
   */
  'status': (string);
  'reasons': (string)[];
}
