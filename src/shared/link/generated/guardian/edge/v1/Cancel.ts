// Original file: proto/guardian/edge/v1/link.proto


export interface Cancel {
}

export interface Cancel__Output {
}
