// Clips: [start, end] seconds of consecutive recorded segments as one MP4, by stream copy (no re-encoding), for
// events and downloads. Runs on the libuv pool.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace guardian {

// Concatenates [start, end] seconds of a list of segment files into one MP4 by stream copy, starting at the
// keyframe at or before `start`. Returns an empty string on success, else the error.
struct ClipResult {
  double durationSeconds = 0, startSeconds = 0;
  int64_t bytes = 0, frames = 0;
  bool startsOnKeyframe = false;
};
std::string ExportClip(const std::vector<std::string>& inputs, double start, double end, const std::string& output,
                       ClipResult* result);


// exportClip({ inputs: string[], start, end, output }) -> Promise<{ durationSeconds, startSeconds, bytes, ... }>
Napi::Value ExportClipJs(const Napi::CallbackInfo& info);

}  // namespace guardian
