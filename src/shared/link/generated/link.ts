import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { ArchiveChunk as _guardian_edge_v1_ArchiveChunk, ArchiveChunk__Output as _guardian_edge_v1_ArchiveChunk__Output } from './guardian/edge/v1/ArchiveChunk.ts';
import type { ArchiveEnd as _guardian_edge_v1_ArchiveEnd, ArchiveEnd__Output as _guardian_edge_v1_ArchiveEnd__Output } from './guardian/edge/v1/ArchiveEnd.ts';
import type { ArchiveFetchChunk as _guardian_edge_v1_ArchiveFetchChunk, ArchiveFetchChunk__Output as _guardian_edge_v1_ArchiveFetchChunk__Output } from './guardian/edge/v1/ArchiveFetchChunk.ts';
import type { ArchiveFetchHeader as _guardian_edge_v1_ArchiveFetchHeader, ArchiveFetchHeader__Output as _guardian_edge_v1_ArchiveFetchHeader__Output } from './guardian/edge/v1/ArchiveFetchHeader.ts';
import type { ArchiveFetchRequest as _guardian_edge_v1_ArchiveFetchRequest, ArchiveFetchRequest__Output as _guardian_edge_v1_ArchiveFetchRequest__Output } from './guardian/edge/v1/ArchiveFetchRequest.ts';
import type { ArchiveHeader as _guardian_edge_v1_ArchiveHeader, ArchiveHeader__Output as _guardian_edge_v1_ArchiveHeader__Output } from './guardian/edge/v1/ArchiveHeader.ts';
import type { ArchiveReceipt as _guardian_edge_v1_ArchiveReceipt, ArchiveReceipt__Output as _guardian_edge_v1_ArchiveReceipt__Output } from './guardian/edge/v1/ArchiveReceipt.ts';
import type { Camera as _guardian_edge_v1_Camera, Camera__Output as _guardian_edge_v1_Camera__Output } from './guardian/edge/v1/Camera.ts';
import type { CameraHealth as _guardian_edge_v1_CameraHealth, CameraHealth__Output as _guardian_edge_v1_CameraHealth__Output } from './guardian/edge/v1/CameraHealth.ts';
import type { CameraModel as _guardian_edge_v1_CameraModel, CameraModel__Output as _guardian_edge_v1_CameraModel__Output } from './guardian/edge/v1/CameraModel.ts';
import type { Cancel as _guardian_edge_v1_Cancel, Cancel__Output as _guardian_edge_v1_Cancel__Output } from './guardian/edge/v1/Cancel.ts';
import type { ClipChunk as _guardian_edge_v1_ClipChunk, ClipChunk__Output as _guardian_edge_v1_ClipChunk__Output } from './guardian/edge/v1/ClipChunk.ts';
import type { ClipEnd as _guardian_edge_v1_ClipEnd, ClipEnd__Output as _guardian_edge_v1_ClipEnd__Output } from './guardian/edge/v1/ClipEnd.ts';
import type { ClipError as _guardian_edge_v1_ClipError, ClipError__Output as _guardian_edge_v1_ClipError__Output } from './guardian/edge/v1/ClipError.ts';
import type { ClipHeader as _guardian_edge_v1_ClipHeader, ClipHeader__Output as _guardian_edge_v1_ClipHeader__Output } from './guardian/edge/v1/ClipHeader.ts';
import type { ClipReceipt as _guardian_edge_v1_ClipReceipt, ClipReceipt__Output as _guardian_edge_v1_ClipReceipt__Output } from './guardian/edge/v1/ClipReceipt.ts';
import type { ClipRequest as _guardian_edge_v1_ClipRequest, ClipRequest__Output as _guardian_edge_v1_ClipRequest__Output } from './guardian/edge/v1/ClipRequest.ts';
import type { ControlOpen as _guardian_edge_v1_ControlOpen, ControlOpen__Output as _guardian_edge_v1_ControlOpen__Output } from './guardian/edge/v1/ControlOpen.ts';
import type { DatasetChunk as _guardian_edge_v1_DatasetChunk, DatasetChunk__Output as _guardian_edge_v1_DatasetChunk__Output } from './guardian/edge/v1/DatasetChunk.ts';
import type { DatasetHeader as _guardian_edge_v1_DatasetHeader, DatasetHeader__Output as _guardian_edge_v1_DatasetHeader__Output } from './guardian/edge/v1/DatasetHeader.ts';
import type { DatasetReceipt as _guardian_edge_v1_DatasetReceipt, DatasetReceipt__Output as _guardian_edge_v1_DatasetReceipt__Output } from './guardian/edge/v1/DatasetReceipt.ts';
import type { EdgeLinkClient as _guardian_edge_v1_EdgeLinkClient, EdgeLinkDefinition as _guardian_edge_v1_EdgeLinkDefinition } from './guardian/edge/v1/EdgeLink.ts';
import type { EdgeMessage as _guardian_edge_v1_EdgeMessage, EdgeMessage__Output as _guardian_edge_v1_EdgeMessage__Output } from './guardian/edge/v1/EdgeMessage.ts';
import type { Event as _guardian_edge_v1_Event, Event__Output as _guardian_edge_v1_Event__Output } from './guardian/edge/v1/Event.ts';
import type { EventAck as _guardian_edge_v1_EventAck, EventAck__Output as _guardian_edge_v1_EventAck__Output } from './guardian/edge/v1/EventAck.ts';
import type { EventAcks as _guardian_edge_v1_EventAcks, EventAcks__Output as _guardian_edge_v1_EventAcks__Output } from './guardian/edge/v1/EventAcks.ts';
import type { EventBatch as _guardian_edge_v1_EventBatch, EventBatch__Output as _guardian_edge_v1_EventBatch__Output } from './guardian/edge/v1/EventBatch.ts';
import type { EventEnvelope as _guardian_edge_v1_EventEnvelope, EventEnvelope__Output as _guardian_edge_v1_EventEnvelope__Output } from './guardian/edge/v1/EventEnvelope.ts';
import type { HelloReply as _guardian_edge_v1_HelloReply, HelloReply__Output as _guardian_edge_v1_HelloReply__Output } from './guardian/edge/v1/HelloReply.ts';
import type { HelloRequest as _guardian_edge_v1_HelloRequest, HelloRequest__Output as _guardian_edge_v1_HelloRequest__Output } from './guardian/edge/v1/HelloRequest.ts';
import type { ModelChunk as _guardian_edge_v1_ModelChunk, ModelChunk__Output as _guardian_edge_v1_ModelChunk__Output } from './guardian/edge/v1/ModelChunk.ts';
import type { ModelFetchRequest as _guardian_edge_v1_ModelFetchRequest, ModelFetchRequest__Output as _guardian_edge_v1_ModelFetchRequest__Output } from './guardian/edge/v1/ModelFetchRequest.ts';
import type { ModelPush as _guardian_edge_v1_ModelPush, ModelPush__Output as _guardian_edge_v1_ModelPush__Output } from './guardian/edge/v1/ModelPush.ts';
import type { ModelReport as _guardian_edge_v1_ModelReport, ModelReport__Output as _guardian_edge_v1_ModelReport__Output } from './guardian/edge/v1/ModelReport.ts';
import type { ModelRollback as _guardian_edge_v1_ModelRollback, ModelRollback__Output as _guardian_edge_v1_ModelRollback__Output } from './guardian/edge/v1/ModelRollback.ts';
import type { PathPoint as _guardian_edge_v1_PathPoint, PathPoint__Output as _guardian_edge_v1_PathPoint__Output } from './guardian/edge/v1/PathPoint.ts';
import type { PingReply as _guardian_edge_v1_PingReply, PingReply__Output as _guardian_edge_v1_PingReply__Output } from './guardian/edge/v1/PingReply.ts';
import type { PingRequest as _guardian_edge_v1_PingRequest, PingRequest__Output as _guardian_edge_v1_PingRequest__Output } from './guardian/edge/v1/PingRequest.ts';
import type { RequestFailed as _guardian_edge_v1_RequestFailed, RequestFailed__Output as _guardian_edge_v1_RequestFailed__Output } from './guardian/edge/v1/RequestFailed.ts';
import type { TelemetryReply as _guardian_edge_v1_TelemetryReply, TelemetryReply__Output as _guardian_edge_v1_TelemetryReply__Output } from './guardian/edge/v1/TelemetryReply.ts';
import type { TelemetryReport as _guardian_edge_v1_TelemetryReport, TelemetryReport__Output as _guardian_edge_v1_TelemetryReport__Output } from './guardian/edge/v1/TelemetryReport.ts';
import type { VmRequest as _guardian_edge_v1_VmRequest, VmRequest__Output as _guardian_edge_v1_VmRequest__Output } from './guardian/edge/v1/VmRequest.ts';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  guardian: {
    edge: {
      v1: {
        ArchiveChunk: MessageTypeDefinition<_guardian_edge_v1_ArchiveChunk, _guardian_edge_v1_ArchiveChunk__Output>
        ArchiveEnd: MessageTypeDefinition<_guardian_edge_v1_ArchiveEnd, _guardian_edge_v1_ArchiveEnd__Output>
        ArchiveFetchChunk: MessageTypeDefinition<_guardian_edge_v1_ArchiveFetchChunk, _guardian_edge_v1_ArchiveFetchChunk__Output>
        ArchiveFetchHeader: MessageTypeDefinition<_guardian_edge_v1_ArchiveFetchHeader, _guardian_edge_v1_ArchiveFetchHeader__Output>
        ArchiveFetchRequest: MessageTypeDefinition<_guardian_edge_v1_ArchiveFetchRequest, _guardian_edge_v1_ArchiveFetchRequest__Output>
        ArchiveHeader: MessageTypeDefinition<_guardian_edge_v1_ArchiveHeader, _guardian_edge_v1_ArchiveHeader__Output>
        ArchiveReceipt: MessageTypeDefinition<_guardian_edge_v1_ArchiveReceipt, _guardian_edge_v1_ArchiveReceipt__Output>
        Camera: MessageTypeDefinition<_guardian_edge_v1_Camera, _guardian_edge_v1_Camera__Output>
        CameraHealth: MessageTypeDefinition<_guardian_edge_v1_CameraHealth, _guardian_edge_v1_CameraHealth__Output>
        CameraModel: MessageTypeDefinition<_guardian_edge_v1_CameraModel, _guardian_edge_v1_CameraModel__Output>
        Cancel: MessageTypeDefinition<_guardian_edge_v1_Cancel, _guardian_edge_v1_Cancel__Output>
        ClipChunk: MessageTypeDefinition<_guardian_edge_v1_ClipChunk, _guardian_edge_v1_ClipChunk__Output>
        ClipEnd: MessageTypeDefinition<_guardian_edge_v1_ClipEnd, _guardian_edge_v1_ClipEnd__Output>
        ClipError: MessageTypeDefinition<_guardian_edge_v1_ClipError, _guardian_edge_v1_ClipError__Output>
        ClipHeader: MessageTypeDefinition<_guardian_edge_v1_ClipHeader, _guardian_edge_v1_ClipHeader__Output>
        ClipReceipt: MessageTypeDefinition<_guardian_edge_v1_ClipReceipt, _guardian_edge_v1_ClipReceipt__Output>
        ClipRequest: MessageTypeDefinition<_guardian_edge_v1_ClipRequest, _guardian_edge_v1_ClipRequest__Output>
        ControlOpen: MessageTypeDefinition<_guardian_edge_v1_ControlOpen, _guardian_edge_v1_ControlOpen__Output>
        DatasetChunk: MessageTypeDefinition<_guardian_edge_v1_DatasetChunk, _guardian_edge_v1_DatasetChunk__Output>
        DatasetHeader: MessageTypeDefinition<_guardian_edge_v1_DatasetHeader, _guardian_edge_v1_DatasetHeader__Output>
        DatasetReceipt: MessageTypeDefinition<_guardian_edge_v1_DatasetReceipt, _guardian_edge_v1_DatasetReceipt__Output>
        EdgeLink: SubtypeConstructor<typeof grpc.Client, _guardian_edge_v1_EdgeLinkClient> & { service: _guardian_edge_v1_EdgeLinkDefinition }
        EdgeMessage: MessageTypeDefinition<_guardian_edge_v1_EdgeMessage, _guardian_edge_v1_EdgeMessage__Output>
        Event: MessageTypeDefinition<_guardian_edge_v1_Event, _guardian_edge_v1_Event__Output>
        EventAck: MessageTypeDefinition<_guardian_edge_v1_EventAck, _guardian_edge_v1_EventAck__Output>
        EventAcks: MessageTypeDefinition<_guardian_edge_v1_EventAcks, _guardian_edge_v1_EventAcks__Output>
        EventBatch: MessageTypeDefinition<_guardian_edge_v1_EventBatch, _guardian_edge_v1_EventBatch__Output>
        EventEnvelope: MessageTypeDefinition<_guardian_edge_v1_EventEnvelope, _guardian_edge_v1_EventEnvelope__Output>
        HelloReply: MessageTypeDefinition<_guardian_edge_v1_HelloReply, _guardian_edge_v1_HelloReply__Output>
        HelloRequest: MessageTypeDefinition<_guardian_edge_v1_HelloRequest, _guardian_edge_v1_HelloRequest__Output>
        ModelChunk: MessageTypeDefinition<_guardian_edge_v1_ModelChunk, _guardian_edge_v1_ModelChunk__Output>
        ModelFetchRequest: MessageTypeDefinition<_guardian_edge_v1_ModelFetchRequest, _guardian_edge_v1_ModelFetchRequest__Output>
        ModelPush: MessageTypeDefinition<_guardian_edge_v1_ModelPush, _guardian_edge_v1_ModelPush__Output>
        ModelReport: MessageTypeDefinition<_guardian_edge_v1_ModelReport, _guardian_edge_v1_ModelReport__Output>
        ModelRollback: MessageTypeDefinition<_guardian_edge_v1_ModelRollback, _guardian_edge_v1_ModelRollback__Output>
        PathPoint: MessageTypeDefinition<_guardian_edge_v1_PathPoint, _guardian_edge_v1_PathPoint__Output>
        PingReply: MessageTypeDefinition<_guardian_edge_v1_PingReply, _guardian_edge_v1_PingReply__Output>
        PingRequest: MessageTypeDefinition<_guardian_edge_v1_PingRequest, _guardian_edge_v1_PingRequest__Output>
        RequestFailed: MessageTypeDefinition<_guardian_edge_v1_RequestFailed, _guardian_edge_v1_RequestFailed__Output>
        TelemetryReply: MessageTypeDefinition<_guardian_edge_v1_TelemetryReply, _guardian_edge_v1_TelemetryReply__Output>
        TelemetryReport: MessageTypeDefinition<_guardian_edge_v1_TelemetryReport, _guardian_edge_v1_TelemetryReport__Output>
        VmRequest: MessageTypeDefinition<_guardian_edge_v1_VmRequest, _guardian_edge_v1_VmRequest__Output>
      }
    }
  }
}

