// JS objects made from native results (JS thread only). Shapes match bindings/types.ts.
#pragma once
#include <napi.h>

#include "convert.h"
#include "input.h"
#include "recorder.h"

namespace guardian {

Napi::Object StreamInfoObject(Napi::Env env, const StreamInfo& info);
// { data: Float32Array | Uint8Array over `buffer`, size, scaleX, scaleY, contentWidth, contentHeight }
Napi::Object TensorObject(Napi::Env env, Napi::ArrayBuffer buffer, size_t bytes, const TensorSpec& spec,
                          const Letterbox& lb);
Napi::Object RecorderEventObject(Napi::Env env, const RecorderEvent& e);

}  // namespace guardian
