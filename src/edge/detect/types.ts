// Shapes shared by the detection modules.

/** [x1, y1, x2, y2] in pixels of the source frame. */
export type Box = [number, number, number, number];

export interface Detection {
  classId: number;
  label: string;
  score: number;
  box: Box;
}

export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** One inference engine running one model. Implementations: ONNX Runtime, OpenVINO. */
export interface InferenceBackend {
  readonly name: 'onnxruntime' | 'openvino';
  readonly device: string;
  /**
   * Runs the model on a float32 NCHW tensor [batch, 3, size, size] (batch > 1 only on a model made for that batch,
   * see batching.ts); outputs in the model's declared order.
   */
  run(input: Float32Array, size: number, batch?: number): Promise<OutputTensor[]>;
  close(): Promise<void>;
}

/** Where the tensor's pixels came from: the whole frame or a crop, and how it was scaled. */
export interface TensorGeometry {
  /** Offset of the tensor's region in the frame. */
  offsetX: number;
  offsetY: number;
  /** Tensor pixels per frame pixel. */
  scaleX: number;
  scaleY: number;
  frameWidth: number;
  frameHeight: number;
}
