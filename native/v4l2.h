// V4L2 capability query of a /dev/video* node (Linux): driver, card, bus, capture formats and frame sizes.
#pragma once
#include <napi.h>

namespace guardian {

Napi::Value V4l2Query(const Napi::CallbackInfo& info);

}  // namespace guardian
