// Original file: proto/guardian/edge/v1/link.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { ArchiveChunk as _guardian_edge_v1_ArchiveChunk, ArchiveChunk__Output as _guardian_edge_v1_ArchiveChunk__Output } from '../../../guardian/edge/v1/ArchiveChunk.ts';
import type { ArchiveFetchChunk as _guardian_edge_v1_ArchiveFetchChunk, ArchiveFetchChunk__Output as _guardian_edge_v1_ArchiveFetchChunk__Output } from '../../../guardian/edge/v1/ArchiveFetchChunk.ts';
import type { ArchiveFetchRequest as _guardian_edge_v1_ArchiveFetchRequest, ArchiveFetchRequest__Output as _guardian_edge_v1_ArchiveFetchRequest__Output } from '../../../guardian/edge/v1/ArchiveFetchRequest.ts';
import type { ArchiveReceipt as _guardian_edge_v1_ArchiveReceipt, ArchiveReceipt__Output as _guardian_edge_v1_ArchiveReceipt__Output } from '../../../guardian/edge/v1/ArchiveReceipt.ts';
import type { ClipChunk as _guardian_edge_v1_ClipChunk, ClipChunk__Output as _guardian_edge_v1_ClipChunk__Output } from '../../../guardian/edge/v1/ClipChunk.ts';
import type { ClipReceipt as _guardian_edge_v1_ClipReceipt, ClipReceipt__Output as _guardian_edge_v1_ClipReceipt__Output } from '../../../guardian/edge/v1/ClipReceipt.ts';
import type { DatasetChunk as _guardian_edge_v1_DatasetChunk, DatasetChunk__Output as _guardian_edge_v1_DatasetChunk__Output } from '../../../guardian/edge/v1/DatasetChunk.ts';
import type { DatasetReceipt as _guardian_edge_v1_DatasetReceipt, DatasetReceipt__Output as _guardian_edge_v1_DatasetReceipt__Output } from '../../../guardian/edge/v1/DatasetReceipt.ts';
import type { EdgeMessage as _guardian_edge_v1_EdgeMessage, EdgeMessage__Output as _guardian_edge_v1_EdgeMessage__Output } from '../../../guardian/edge/v1/EdgeMessage.ts';
import type { EventAcks as _guardian_edge_v1_EventAcks, EventAcks__Output as _guardian_edge_v1_EventAcks__Output } from '../../../guardian/edge/v1/EventAcks.ts';
import type { EventBatch as _guardian_edge_v1_EventBatch, EventBatch__Output as _guardian_edge_v1_EventBatch__Output } from '../../../guardian/edge/v1/EventBatch.ts';
import type { HelloReply as _guardian_edge_v1_HelloReply, HelloReply__Output as _guardian_edge_v1_HelloReply__Output } from '../../../guardian/edge/v1/HelloReply.ts';
import type { HelloRequest as _guardian_edge_v1_HelloRequest, HelloRequest__Output as _guardian_edge_v1_HelloRequest__Output } from '../../../guardian/edge/v1/HelloRequest.ts';
import type { ModelChunk as _guardian_edge_v1_ModelChunk, ModelChunk__Output as _guardian_edge_v1_ModelChunk__Output } from '../../../guardian/edge/v1/ModelChunk.ts';
import type { ModelFetchRequest as _guardian_edge_v1_ModelFetchRequest, ModelFetchRequest__Output as _guardian_edge_v1_ModelFetchRequest__Output } from '../../../guardian/edge/v1/ModelFetchRequest.ts';
import type { PingReply as _guardian_edge_v1_PingReply, PingReply__Output as _guardian_edge_v1_PingReply__Output } from '../../../guardian/edge/v1/PingReply.ts';
import type { PingRequest as _guardian_edge_v1_PingRequest, PingRequest__Output as _guardian_edge_v1_PingRequest__Output } from '../../../guardian/edge/v1/PingRequest.ts';
import type { TelemetryReply as _guardian_edge_v1_TelemetryReply, TelemetryReply__Output as _guardian_edge_v1_TelemetryReply__Output } from '../../../guardian/edge/v1/TelemetryReply.ts';
import type { TelemetryReport as _guardian_edge_v1_TelemetryReport, TelemetryReport__Output as _guardian_edge_v1_TelemetryReport__Output } from '../../../guardian/edge/v1/TelemetryReport.ts';
import type { VmRequest as _guardian_edge_v1_VmRequest, VmRequest__Output as _guardian_edge_v1_VmRequest__Output } from '../../../guardian/edge/v1/VmRequest.ts';

export interface EdgeLinkClient extends grpc.Client {
  /**
   * One encrypted archive object (an event's clip, snapshot or metadata, ciphertext the VM cannot read): a header,
   * the bytes in chunks of at most 256 KiB, then an end marker. The VM answers only once the object is durably stored
   * and indexed (STORED), or at once if it already holds the same bytes (UNCHANGED); anything else is a status
   * (DATA_LOSS: size or sha256 do not match, PERMISSION_DENIED: not this edge's event, FAILED_PRECONDITION: the event
   * has not been delivered yet, RESOURCE_EXHAUSTED: the camera's quota is full of protected objects, ABORTED:
   * superseded or cut short). A failed or cut upload leaves nothing visible; the edge simply uploads again.
   */
  Archive(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_ArchiveReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ArchiveChunk>;
  Archive(metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_ArchiveReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ArchiveChunk>;
  Archive(options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_ArchiveReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ArchiveChunk>;
  Archive(callback: grpc.requestCallback<_guardian_edge_v1_ArchiveReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ArchiveChunk>;
  /**
   * One encrypted archive object (an event's clip, snapshot or metadata, ciphertext the VM cannot read): a header,
   * the bytes in chunks of at most 256 KiB, then an end marker. The VM answers only once the object is durably stored
   * and indexed (STORED), or at once if it already holds the same bytes (UNCHANGED); anything else is a status
   * (DATA_LOSS: size or sha256 do not match, PERMISSION_DENIED: not this edge's event, FAILED_PRECONDITION: the event
   * has not been delivered yet, RESOURCE_EXHAUSTED: the camera's quota is full of protected objects, ABORTED:
   * superseded or cut short). A failed or cut upload leaves nothing visible; the edge simply uploads again.
   */
  archive(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_ArchiveReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ArchiveChunk>;
  archive(metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_ArchiveReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ArchiveChunk>;
  archive(options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_ArchiveReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ArchiveChunk>;
  archive(callback: grpc.requestCallback<_guardian_edge_v1_ArchiveReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ArchiveChunk>;
  
  /**
   * Opened by the edge and kept open: the VM's requests go down, the edge's short answers go up.
   */
  Control(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_guardian_edge_v1_EdgeMessage, _guardian_edge_v1_VmRequest__Output>;
  Control(options?: grpc.CallOptions): grpc.ClientDuplexStream<_guardian_edge_v1_EdgeMessage, _guardian_edge_v1_VmRequest__Output>;
  /**
   * Opened by the edge and kept open: the VM's requests go down, the edge's short answers go up.
   */
  control(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_guardian_edge_v1_EdgeMessage, _guardian_edge_v1_VmRequest__Output>;
  control(options?: grpc.CallOptions): grpc.ClientDuplexStream<_guardian_edge_v1_EdgeMessage, _guardian_edge_v1_VmRequest__Output>;
  
  /**
   * A byte range of one of this edge's own archived objects, read back as stored (ciphertext: the edge decrypts the
   * segments it asked for, the VM never can). A header first (the object's size and SHA-256, the range sent), then
   * the bytes in chunks of at most 256 KiB; with header_only, the header alone. NOT_FOUND: the archive holds no such
   * object; PERMISSION_DENIED: another edge's event; OUT_OF_RANGE: the range starts past the end (the details say
   * the size); UNIMPLEMENTED: the VM keeps no archive.
   */
  FetchArchive(argument: _guardian_edge_v1_ArchiveFetchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_guardian_edge_v1_ArchiveFetchChunk__Output>;
  FetchArchive(argument: _guardian_edge_v1_ArchiveFetchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_guardian_edge_v1_ArchiveFetchChunk__Output>;
  /**
   * A byte range of one of this edge's own archived objects, read back as stored (ciphertext: the edge decrypts the
   * segments it asked for, the VM never can). A header first (the object's size and SHA-256, the range sent), then
   * the bytes in chunks of at most 256 KiB; with header_only, the header alone. NOT_FOUND: the archive holds no such
   * object; PERMISSION_DENIED: another edge's event; OUT_OF_RANGE: the range starts past the end (the details say
   * the size); UNIMPLEMENTED: the VM keeps no archive.
   */
  fetchArchive(argument: _guardian_edge_v1_ArchiveFetchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_guardian_edge_v1_ArchiveFetchChunk__Output>;
  fetchArchive(argument: _guardian_edge_v1_ArchiveFetchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_guardian_edge_v1_ArchiveFetchChunk__Output>;
  
  /**
   * The ONNX file of a model the VM pushed to this edge (ModelPush), in chunks of at most 256 KiB. NOT_FOUND: no
   * such model is being deployed to this edge (an edge reads only the models deployed to it).
   */
  FetchModel(argument: _guardian_edge_v1_ModelFetchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_guardian_edge_v1_ModelChunk__Output>;
  FetchModel(argument: _guardian_edge_v1_ModelFetchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_guardian_edge_v1_ModelChunk__Output>;
  /**
   * The ONNX file of a model the VM pushed to this edge (ModelPush), in chunks of at most 256 KiB. NOT_FOUND: no
   * such model is being deployed to this edge (an edge reads only the models deployed to it).
   */
  fetchModel(argument: _guardian_edge_v1_ModelFetchRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_guardian_edge_v1_ModelChunk__Output>;
  fetchModel(argument: _guardian_edge_v1_ModelFetchRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_guardian_edge_v1_ModelChunk__Output>;
  
  /**
   * First call after connecting: who the edge is and what it has.
   */
  Hello(argument: _guardian_edge_v1_HelloRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  Hello(argument: _guardian_edge_v1_HelloRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  Hello(argument: _guardian_edge_v1_HelloRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  Hello(argument: _guardian_edge_v1_HelloRequest, callback: grpc.requestCallback<_guardian_edge_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  /**
   * First call after connecting: who the edge is and what it has.
   */
  hello(argument: _guardian_edge_v1_HelloRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  hello(argument: _guardian_edge_v1_HelloRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  hello(argument: _guardian_edge_v1_HelloRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  hello(argument: _guardian_edge_v1_HelloRequest, callback: grpc.requestCallback<_guardian_edge_v1_HelloReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Heartbeat; the round trip is the link latency the edge reports.
   */
  Ping(argument: _guardian_edge_v1_PingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_PingReply__Output>): grpc.ClientUnaryCall;
  Ping(argument: _guardian_edge_v1_PingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_PingReply__Output>): grpc.ClientUnaryCall;
  Ping(argument: _guardian_edge_v1_PingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_PingReply__Output>): grpc.ClientUnaryCall;
  Ping(argument: _guardian_edge_v1_PingRequest, callback: grpc.requestCallback<_guardian_edge_v1_PingReply__Output>): grpc.ClientUnaryCall;
  /**
   * Heartbeat; the round trip is the link latency the edge reports.
   */
  ping(argument: _guardian_edge_v1_PingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_PingReply__Output>): grpc.ClientUnaryCall;
  ping(argument: _guardian_edge_v1_PingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_PingReply__Output>): grpc.ClientUnaryCall;
  ping(argument: _guardian_edge_v1_PingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_PingReply__Output>): grpc.ClientUnaryCall;
  ping(argument: _guardian_edge_v1_PingRequest, callback: grpc.requestCallback<_guardian_edge_v1_PingReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * Events from the edge's outbox; every event is acknowledged on its own.
   */
  PushEvents(argument: _guardian_edge_v1_EventBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_EventAcks__Output>): grpc.ClientUnaryCall;
  PushEvents(argument: _guardian_edge_v1_EventBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_EventAcks__Output>): grpc.ClientUnaryCall;
  PushEvents(argument: _guardian_edge_v1_EventBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_EventAcks__Output>): grpc.ClientUnaryCall;
  PushEvents(argument: _guardian_edge_v1_EventBatch, callback: grpc.requestCallback<_guardian_edge_v1_EventAcks__Output>): grpc.ClientUnaryCall;
  /**
   * Events from the edge's outbox; every event is acknowledged on its own.
   */
  pushEvents(argument: _guardian_edge_v1_EventBatch, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_EventAcks__Output>): grpc.ClientUnaryCall;
  pushEvents(argument: _guardian_edge_v1_EventBatch, metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_EventAcks__Output>): grpc.ClientUnaryCall;
  pushEvents(argument: _guardian_edge_v1_EventBatch, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_EventAcks__Output>): grpc.ClientUnaryCall;
  pushEvents(argument: _guardian_edge_v1_EventBatch, callback: grpc.requestCallback<_guardian_edge_v1_EventAcks__Output>): grpc.ClientUnaryCall;
  
  PushTelemetry(argument: _guardian_edge_v1_TelemetryReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_TelemetryReply__Output>): grpc.ClientUnaryCall;
  PushTelemetry(argument: _guardian_edge_v1_TelemetryReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_TelemetryReply__Output>): grpc.ClientUnaryCall;
  PushTelemetry(argument: _guardian_edge_v1_TelemetryReport, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_TelemetryReply__Output>): grpc.ClientUnaryCall;
  PushTelemetry(argument: _guardian_edge_v1_TelemetryReport, callback: grpc.requestCallback<_guardian_edge_v1_TelemetryReply__Output>): grpc.ClientUnaryCall;
  pushTelemetry(argument: _guardian_edge_v1_TelemetryReport, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_TelemetryReply__Output>): grpc.ClientUnaryCall;
  pushTelemetry(argument: _guardian_edge_v1_TelemetryReport, metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_TelemetryReply__Output>): grpc.ClientUnaryCall;
  pushTelemetry(argument: _guardian_edge_v1_TelemetryReport, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_TelemetryReply__Output>): grpc.ClientUnaryCall;
  pushTelemetry(argument: _guardian_edge_v1_TelemetryReport, callback: grpc.requestCallback<_guardian_edge_v1_TelemetryReply__Output>): grpc.ClientUnaryCall;
  
  /**
   * The edge's answer to a ClipRequest: a header, the bytes, then an end (or an error).
   */
  SendClip(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_ClipReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ClipChunk>;
  SendClip(metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_ClipReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ClipChunk>;
  SendClip(options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_ClipReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ClipChunk>;
  SendClip(callback: grpc.requestCallback<_guardian_edge_v1_ClipReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ClipChunk>;
  /**
   * The edge's answer to a ClipRequest: a header, the bytes, then an end (or an error).
   */
  sendClip(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_ClipReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ClipChunk>;
  sendClip(metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_ClipReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ClipChunk>;
  sendClip(options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_ClipReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ClipChunk>;
  sendClip(callback: grpc.requestCallback<_guardian_edge_v1_ClipReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_ClipChunk>;
  
  /**
   * A labelled dataset (the edge's ZIP export: images/<label>/<id>.jpg and manifest.json), sent on the owner's word
   * for training: a header, the bytes in chunks of at most 256 KiB, then an end marker. The VM answers once the
   * archive is checked and stored; INVALID_ARGUMENT: not a dataset (the details say why; nothing is kept),
   * RESOURCE_EXHAUSTED: the edge's dataset quota is full, DATA_LOSS: size or sha256 do not match.
   */
  UploadDataset(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_DatasetReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_DatasetChunk>;
  UploadDataset(metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_DatasetReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_DatasetChunk>;
  UploadDataset(options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_DatasetReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_DatasetChunk>;
  UploadDataset(callback: grpc.requestCallback<_guardian_edge_v1_DatasetReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_DatasetChunk>;
  /**
   * A labelled dataset (the edge's ZIP export: images/<label>/<id>.jpg and manifest.json), sent on the owner's word
   * for training: a header, the bytes in chunks of at most 256 KiB, then an end marker. The VM answers once the
   * archive is checked and stored; INVALID_ARGUMENT: not a dataset (the details say why; nothing is kept),
   * RESOURCE_EXHAUSTED: the edge's dataset quota is full, DATA_LOSS: size or sha256 do not match.
   */
  uploadDataset(metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_DatasetReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_DatasetChunk>;
  uploadDataset(metadata: grpc.Metadata, callback: grpc.requestCallback<_guardian_edge_v1_DatasetReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_DatasetChunk>;
  uploadDataset(options: grpc.CallOptions, callback: grpc.requestCallback<_guardian_edge_v1_DatasetReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_DatasetChunk>;
  uploadDataset(callback: grpc.requestCallback<_guardian_edge_v1_DatasetReceipt__Output>): grpc.ClientWritableStream<_guardian_edge_v1_DatasetChunk>;
  
}

export interface EdgeLinkHandlers extends grpc.UntypedServiceImplementation {
  /**
   * One encrypted archive object (an event's clip, snapshot or metadata, ciphertext the VM cannot read): a header,
   * the bytes in chunks of at most 256 KiB, then an end marker. The VM answers only once the object is durably stored
   * and indexed (STORED), or at once if it already holds the same bytes (UNCHANGED); anything else is a status
   * (DATA_LOSS: size or sha256 do not match, PERMISSION_DENIED: not this edge's event, FAILED_PRECONDITION: the event
   * has not been delivered yet, RESOURCE_EXHAUSTED: the camera's quota is full of protected objects, ABORTED:
   * superseded or cut short). A failed or cut upload leaves nothing visible; the edge simply uploads again.
   */
  Archive: grpc.handleClientStreamingCall<_guardian_edge_v1_ArchiveChunk__Output, _guardian_edge_v1_ArchiveReceipt>;
  
  /**
   * Opened by the edge and kept open: the VM's requests go down, the edge's short answers go up.
   */
  Control: grpc.handleBidiStreamingCall<_guardian_edge_v1_EdgeMessage__Output, _guardian_edge_v1_VmRequest>;
  
  /**
   * A byte range of one of this edge's own archived objects, read back as stored (ciphertext: the edge decrypts the
   * segments it asked for, the VM never can). A header first (the object's size and SHA-256, the range sent), then
   * the bytes in chunks of at most 256 KiB; with header_only, the header alone. NOT_FOUND: the archive holds no such
   * object; PERMISSION_DENIED: another edge's event; OUT_OF_RANGE: the range starts past the end (the details say
   * the size); UNIMPLEMENTED: the VM keeps no archive.
   */
  FetchArchive: grpc.handleServerStreamingCall<_guardian_edge_v1_ArchiveFetchRequest__Output, _guardian_edge_v1_ArchiveFetchChunk>;
  
  /**
   * The ONNX file of a model the VM pushed to this edge (ModelPush), in chunks of at most 256 KiB. NOT_FOUND: no
   * such model is being deployed to this edge (an edge reads only the models deployed to it).
   */
  FetchModel: grpc.handleServerStreamingCall<_guardian_edge_v1_ModelFetchRequest__Output, _guardian_edge_v1_ModelChunk>;
  
  /**
   * First call after connecting: who the edge is and what it has.
   */
  Hello: grpc.handleUnaryCall<_guardian_edge_v1_HelloRequest__Output, _guardian_edge_v1_HelloReply>;
  
  /**
   * Heartbeat; the round trip is the link latency the edge reports.
   */
  Ping: grpc.handleUnaryCall<_guardian_edge_v1_PingRequest__Output, _guardian_edge_v1_PingReply>;
  
  /**
   * Events from the edge's outbox; every event is acknowledged on its own.
   */
  PushEvents: grpc.handleUnaryCall<_guardian_edge_v1_EventBatch__Output, _guardian_edge_v1_EventAcks>;
  
  PushTelemetry: grpc.handleUnaryCall<_guardian_edge_v1_TelemetryReport__Output, _guardian_edge_v1_TelemetryReply>;
  
  /**
   * The edge's answer to a ClipRequest: a header, the bytes, then an end (or an error).
   */
  SendClip: grpc.handleClientStreamingCall<_guardian_edge_v1_ClipChunk__Output, _guardian_edge_v1_ClipReceipt>;
  
  /**
   * A labelled dataset (the edge's ZIP export: images/<label>/<id>.jpg and manifest.json), sent on the owner's word
   * for training: a header, the bytes in chunks of at most 256 KiB, then an end marker. The VM answers once the
   * archive is checked and stored; INVALID_ARGUMENT: not a dataset (the details say why; nothing is kept),
   * RESOURCE_EXHAUSTED: the edge's dataset quota is full, DATA_LOSS: size or sha256 do not match.
   */
  UploadDataset: grpc.handleClientStreamingCall<_guardian_edge_v1_DatasetChunk__Output, _guardian_edge_v1_DatasetReceipt>;
  
}

export interface EdgeLinkDefinition extends grpc.ServiceDefinition {
  Archive: MethodDefinition<_guardian_edge_v1_ArchiveChunk, _guardian_edge_v1_ArchiveReceipt, _guardian_edge_v1_ArchiveChunk__Output, _guardian_edge_v1_ArchiveReceipt__Output>
  Control: MethodDefinition<_guardian_edge_v1_EdgeMessage, _guardian_edge_v1_VmRequest, _guardian_edge_v1_EdgeMessage__Output, _guardian_edge_v1_VmRequest__Output>
  FetchArchive: MethodDefinition<_guardian_edge_v1_ArchiveFetchRequest, _guardian_edge_v1_ArchiveFetchChunk, _guardian_edge_v1_ArchiveFetchRequest__Output, _guardian_edge_v1_ArchiveFetchChunk__Output>
  FetchModel: MethodDefinition<_guardian_edge_v1_ModelFetchRequest, _guardian_edge_v1_ModelChunk, _guardian_edge_v1_ModelFetchRequest__Output, _guardian_edge_v1_ModelChunk__Output>
  Hello: MethodDefinition<_guardian_edge_v1_HelloRequest, _guardian_edge_v1_HelloReply, _guardian_edge_v1_HelloRequest__Output, _guardian_edge_v1_HelloReply__Output>
  Ping: MethodDefinition<_guardian_edge_v1_PingRequest, _guardian_edge_v1_PingReply, _guardian_edge_v1_PingRequest__Output, _guardian_edge_v1_PingReply__Output>
  PushEvents: MethodDefinition<_guardian_edge_v1_EventBatch, _guardian_edge_v1_EventAcks, _guardian_edge_v1_EventBatch__Output, _guardian_edge_v1_EventAcks__Output>
  PushTelemetry: MethodDefinition<_guardian_edge_v1_TelemetryReport, _guardian_edge_v1_TelemetryReply, _guardian_edge_v1_TelemetryReport__Output, _guardian_edge_v1_TelemetryReply__Output>
  SendClip: MethodDefinition<_guardian_edge_v1_ClipChunk, _guardian_edge_v1_ClipReceipt, _guardian_edge_v1_ClipChunk__Output, _guardian_edge_v1_ClipReceipt__Output>
  UploadDataset: MethodDefinition<_guardian_edge_v1_DatasetChunk, _guardian_edge_v1_DatasetReceipt, _guardian_edge_v1_DatasetChunk__Output, _guardian_edge_v1_DatasetReceipt__Output>
}
