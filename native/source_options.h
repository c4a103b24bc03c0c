// What a NativeSource is asked to do, read from the options object bindings/options.ts builds. That validation owns
// every default: here each field is required (INVALID_ARGUMENT naming it when missing), except those whose absence
// means "not used": vaapiDevice, videoSize, frameRate, inputFormat, tensor, record and onRecord.
#pragma once
#include <napi.h>

#include <cstddef>

#include "convert.h"
#include "decoder.h"
#include "input.h"
#include "recorder.h"

namespace guardian {

struct SourceOptions {
  InputOptions input;
  DecoderOptions decoder;
  double sampleFps = 0;      // <= 0: every decoded frame is sampled
  int motionWidth = 0;       // 0: no motion plane
  TensorSpec tensor;         // size 0: no tensor
  bool dropWhenBusy = true;  // keep only the newest sampled frame when JS is behind
  size_t queueSize = 1;
  bool realtime = false;  // pace a file at its own frame rate
  bool loop = false;      // restart a file at its end, with continuous timestamps
  size_t snapshotFrames = 0;
  bool decode = true;  // false: record only (a main stream whose sub stream is analysed)
  bool record = false;
  RecorderOptions recorder;
};

// The input part (url, label, transport, timeouts, V4L2 settings): probe() takes only this.
InputOptions ParseInputOptions(const Napi::Value& value, const char* what);
// onRecord: set to the recorder listener when one is given.
SourceOptions ParseSourceOptions(const Napi::Value& value, Napi::Function* onRecord);

}  // namespace guardian
