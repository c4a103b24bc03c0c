// Original file: proto/guardian/edge/v1/link.proto


export interface ModelChunk {
  'data'?: (Buffer | Uint8Array | string);
}

export interface ModelChunk__Output {
  'data': (Buffer);
}
