// Original file: proto/guardian/edge/v1/link.proto


export interface Camera {
  'id'?: (string);
  'name'?: (string);
  /**
   * rtsp, file, usb
   */
  'kind'?: (string);
  /**
   * online, offline, ...
   */
  'status'?: (string);
}

export interface Camera__Output {
  'id': (string);
  'name': (string);
  /**
   * rtsp, file, usb
   */
  'kind': (string);
  /**
   * online, offline, ...
   */
  'status': (string);
}
