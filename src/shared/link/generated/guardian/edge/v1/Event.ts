// Original file: proto/guardian/edge/v1/link.proto

import type { PathPoint as _guardian_edge_v1_PathPoint, PathPoint__Output as _guardian_edge_v1_PathPoint__Output } from '../../../guardian/edge/v1/PathPoint.ts';
import type { Long } from '@grpc/proto-loader';

/**
 * An event as the edge knows it (without local file names); a later version of the same id supersedes it.
 */
export interface Event {
  /**
   * ULID made at the edge
   */
  'id'?: (string);
  'cameraId'?: (string);
  'trackId'?: (number | string | Long);
  'label'?: (string);
  'labels'?: (string)[];
  'zones'?: (string)[];
  'startMs'?: (number | string | Long);
  'endMs'?: (number | string | Long);
  'maxScore'?: (number | string);
  'meanScore'?: (number | string);
  'detections'?: (number | string | Long);
  'boxPath'?: (_guardian_edge_v1_PathPoint)[];
  'protected'?: (boolean);
  'updatedMs'?: (number | string | Long);
  'hasSnapshot'?: (boolean);
  'hasClip'?: (boolean);
  /**
   * by the owner's alert rules; absent before it is rated
   */
  'severity'?: (string);
  /**
   * the owner's: confirmed or false_positive
   */
  'verdict'?: (string);
  /**
   * the edge's closer look: confirmed or false_positive
   */
  'secondOpinion'?: (string);
  'secondOpinionScore'?: (number | string);
  '_endMs'?: "endMs";
  '_severity'?: "severity";
  '_verdict'?: "verdict";
  '_secondOpinion'?: "secondOpinion";
  '_secondOpinionScore'?: "secondOpinionScore";
}

/**
 * An event as the edge knows it (without local file names); a later version of the same id supersedes it.
 */
export interface Event__Output {
  /**
   * ULID made at the edge
   */
  'id': (string);
  'cameraId': (string);
  'trackId': (number);
  'label': (string);
  'labels': (string)[];
  'zones': (string)[];
  'startMs': (number);
  'endMs'?: (number);
  'maxScore': (number);
  'meanScore': (number);
  'detections': (number);
  'boxPath': (_guardian_edge_v1_PathPoint__Output)[];
  'protected': (boolean);
  'updatedMs': (number);
  'hasSnapshot': (boolean);
  'hasClip': (boolean);
  /**
   * by the owner's alert rules; absent before it is rated
   */
  'severity'?: (string);
  /**
   * the owner's: confirmed or false_positive
   */
  'verdict'?: (string);
  /**
   * the edge's closer look: confirmed or false_positive
   */
  'secondOpinion'?: (string);
  'secondOpinionScore'?: (number);
  '_endMs'?: "endMs";
  '_severity'?: "severity";
  '_verdict'?: "verdict";
  '_secondOpinion'?: "secondOpinion";
  '_secondOpinionScore'?: "secondOpinionScore";
}
