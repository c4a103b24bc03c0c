// JS objects of a source: stream info, frames (whose buffers move to JS), stats and recorder events.
#include "source_js.h"

#include "source.h"

namespace guardian {

namespace {
struct ExternalHint {
  std::shared_ptr<BufferPool> pool;
  size_t bytes;
};
void FreeExternal(Napi::Env env, void* data, ExternalHint* hint) {
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(hint->bytes));
  hint->pool->Put(static_cast<uint8_t*>(data), hint->bytes);
  delete hint;
}
}  // namespace

Napi::Object StreamInfoObject(Napi::Env env, const StreamInfo& in) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("codec", in.codec);
  o.Set("profile", in.profile);
  o.Set("pixelFormat", in.pixelFormat);
  o.Set("container", in.container);
  o.Set("width", in.width);
  o.Set("height", in.height);
  o.Set("fps", in.fps);
  Napi::Array tb = Napi::Array::New(env, 2);
  tb.Set(0u, in.timeBaseNum);
  tb.Set(1u, in.timeBaseDen);
  o.Set("timeBase", tb);
  o.Set("durationSeconds", in.durationSeconds >= 0 ? Napi::Number::New(env, in.durationSeconds) : env.Null());
  o.Set("bitRate", static_cast<double>(in.bitRate));
  o.Set("frameCount", in.frameCount >= 0 ? Napi::Number::New(env, static_cast<double>(in.frameCount)) : env.Null());
  o.Set("live", in.live);
  return o;
}

Napi::Object TensorObject(Napi::Env env, Napi::ArrayBuffer buffer, size_t bytes, const TensorSpec& spec,
                          const Letterbox& lb) {
  Napi::Object t = Napi::Object::New(env);
  if (spec.float32) t.Set("data", Napi::Float32Array::New(env, bytes / 4, buffer, 0));
  else t.Set("data", Napi::Uint8Array::New(env, bytes, buffer, 0));
  t.Set("size", spec.size);
  t.Set("scaleX", lb.scale);
  t.Set("scaleY", lb.scaleY);
  t.Set("contentWidth", lb.width);
  t.Set("contentHeight", lb.height);
  return t;
}

Napi::Object RecorderEventObject(Napi::Env env, const RecorderEvent& e) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", e.type);
  o.Set("path", e.path);
  if (e.type == "segment") {
    o.Set("startMs", e.startMs);
    o.Set("endMs", e.endMs);
    o.Set("durationSeconds", e.durationSeconds);
    o.Set("bytes", static_cast<double>(e.bytes));
    o.Set("frames", static_cast<double>(e.frames));
  }
  if (!e.code.empty()) {
    o.Set("code", e.code);
    o.Set("message", e.message);
  }
  return o;
}

Napi::Object Source::FrameObject(Napi::Env env, std::unique_ptr<Sample> s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("index", static_cast<double>(s->index));
  o.Set("pts", s->pts);
  o.Set("wallClockMs", s->wallClockMs);
  o.Set("keyframe", s->keyframe);
  o.Set("convertMs", s->convertMs);
  o.Set("tensorMs", s->tensorMs);
  o.Set("width", s->width);
  o.Set("height", s->height);
  Napi::Object counters = Napi::Object::New(env);
  counters.Set("decoded", static_cast<double>(s->decoded));
  counters.Set("sampled", static_cast<double>(s->sampled));
  counters.Set("dropped", static_cast<double>(s->dropped));
  o.Set("counters", counters);
  auto external = [&](uint8_t*& data, size_t bytes) {
    // Ownership moves to JS: the ArrayBuffer's finalizer frees the memory when JS drops the last view.
    Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
    Napi::ArrayBuffer ab =
        Napi::ArrayBuffer::New(env, data, bytes, FreeExternal, new ExternalHint{s->pool, bytes + kSlack});
    data = nullptr;
    return ab;
  };
  if (s->tensor) {
    size_t bytes = s->tensorBytes;
    Napi::ArrayBuffer ab = external(s->tensor, bytes);
    o.Set("tensor", TensorObject(env, ab, bytes, opts_.tensor, s->letterbox));
  }
  if (s->motion) {
    size_t bytes = static_cast<size_t>(s->motionWidth) * s->motionHeight;
    Napi::ArrayBuffer ab = external(s->motion, bytes);
    Napi::Object motion = Napi::Object::New(env);
    motion.Set("data", Napi::Uint8Array::New(env, bytes, ab, 0));
    motion.Set("width", s->motionWidth);
    motion.Set("height", s->motionHeight);
    o.Set("motion", motion);
  }
  return o;
}

Napi::Object Source::InfoObject(Napi::Env env) {
  Napi::Object o = StreamInfoObject(env, info_);
  o.Set("hwaccel", hwaccel_);
  o.Set("hwaccelError", hwaccelError_.empty() ? env.Null() : Napi::String::New(env, hwaccelError_));
  return o;
}

// Takes effect at the next keyframe packet: a group of pictures is decoded whole or only its keyframe.
Napi::Value Source::SetKeyframesOnly(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsBoolean())
    throw Napi::TypeError::New(info.Env(), "setKeyframesOnly(on: boolean)");
  keyframesOnlyWanted_ = info[0].As<Napi::Boolean>().Value();
  return info.Env().Undefined();
}

Napi::Value Source::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(mu_);
  Napi::Object o = Napi::Object::New(env);
  const char* phases[] = {"idle", "opening", "running", "ended"};
  o.Set("state", phases[static_cast<int>(phase_)]);
  o.Set("packets", static_cast<double>(counters_.packets));
  o.Set("videoPackets", static_cast<double>(counters_.videoPackets));
  o.Set("bytes", static_cast<double>(counters_.bytes));
  o.Set("decoded", static_cast<double>(counters_.decoded));
  o.Set("sampled", static_cast<double>(counters_.sampled));
  o.Set("dropped", static_cast<double>(counters_.dropped));
  o.Set("decodeErrors", static_cast<double>(counters_.decodeErrors));
  o.Set("keyframes", static_cast<double>(counters_.keyframes));
  o.Set("loops", static_cast<double>(counters_.loops));
  o.Set("skippedPackets", static_cast<double>(counters_.skippedPackets));
  o.Set("keyframesOnly", counters_.keyframesOnly);
  o.Set("queued", static_cast<double>(queue_.size()));
  o.Set("lastPacketWallMs", counters_.lastPacketWallMs > 0 ? Napi::Number::New(env, counters_.lastPacketWallMs) : env.Null());
  o.Set("lastPts", counters_.lastPts >= 0 ? Napi::Number::New(env, counters_.lastPts) : env.Null());
  o.Set("hwaccel", hwaccel_);
  return o;
}

}  // namespace guardian
