// Original file: proto/guardian/edge/v1/link.proto


export interface ClipError {
  /**
   * NOT_FOUND, RANGE, UNAVAILABLE
   */
  'code'?: (string);
  'message'?: (string);
}

export interface ClipError__Output {
  /**
   * NOT_FOUND, RANGE, UNAVAILABLE
   */
  'code': (string);
  'message': (string);
}
