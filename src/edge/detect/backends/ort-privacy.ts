// ONNX Runtime 1.2x+ ships telemetry that tries to upload usage data. Guardian sends nothing to third parties:
// switch it off before the runtime loads (this module is imported ahead of onnxruntime-node).
process.env.ORT_DISABLE_TELEMETRY = '1';
