// Original file: proto/guardian/edge/v1/link.proto


export interface PathPoint {
  'tMs'?: (number | string);
  /**
   * x1, y1, x2, y2 in frame pixels
   */
  'box'?: (number | string)[];
}

export interface PathPoint__Output {
  'tMs': (number);
  /**
   * x1, y1, x2, y2 in frame pixels
   */
  'box': (number)[];
}
