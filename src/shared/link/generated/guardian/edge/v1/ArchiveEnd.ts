// Original file: proto/guardian/edge/v1/link.proto


export interface ArchiveEnd {
}

export interface ArchiveEnd__Output {
}
