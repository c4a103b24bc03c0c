// Entry point of the guardian native addon: the media core (sources, probing, snapshots).
#include <napi.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "input.h"
#include "motion.h"
#include "recorder.h"
#include "source.h"
#include "v4l2.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

namespace guardian {
namespace {

// FFmpeg logs can contain URLs with credentials: they are off unless GUARDIAN_AV_LOG is set, and redacted then.
void RedactingLog(void* avcl, int level, const char* fmt, va_list vl) {
  if (level > av_log_get_level()) return;
  char line[1024];
  int prefix = 1;
  av_log_format_line(avcl, level, fmt, vl, line, sizeof(line), &prefix);
  std::fprintf(stderr, "[libav] %s", RedactUrl(line).c_str());
}

class ProbeWorker : public Napi::AsyncWorker {
 public:
  ProbeWorker(Napi::Env env, InputOptions opts)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), opts_(std::move(opts)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    Input input(opts_, &closing_);
    err_ = input.Open();
    info_ = input.info();
  }
  void OnOK() override {
    if (!err_.ok()) return deferred_.Reject(JsError(Env(), err_).Value());
    deferred_.Resolve(StreamInfoObject(Env(), info_));
  }

 private:
  Napi::Promise::Deferred deferred_;
  InputOptions opts_;
  std::atomic<bool> closing_{false};
  MediaError err_;
  StreamInfo info_;
};

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Object o = info[0].As<Napi::Object>();
  InputOptions opts;
  opts.url = o.Get("url").As<Napi::String>().Utf8Value();
  if (o.Get("label").IsString()) opts.label = o.Get("label").As<Napi::String>().Utf8Value();
  if (o.Get("transport").IsString()) opts.transport = o.Get("transport").As<Napi::String>().Utf8Value();
  if (o.Get("connectTimeoutMs").IsNumber())
    opts.connectTimeoutMs = o.Get("connectTimeoutMs").As<Napi::Number>().Int64Value();
  if (o.Get("readTimeoutMs").IsNumber()) opts.readTimeoutMs = o.Get("readTimeoutMs").As<Napi::Number>().Int64Value();
  auto* worker = new ProbeWorker(info.Env(), std::move(opts));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

class ClipWorker : public Napi::AsyncWorker {
 public:
  ClipWorker(Napi::Env env, std::vector<std::string> inputs, double start, double end, std::string output)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), inputs_(std::move(inputs)),
        start_(start), end_(end), output_(std::move(output)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { error_ = ExportClip(inputs_, start_, end_, output_, &result_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (!error_.empty()) return deferred_.Reject(JsError(env, MakeError("CLIP_FAILED", error_)).Value());
    Napi::Object o = Napi::Object::New(env);
    o.Set("durationSeconds", result_.durationSeconds);
    o.Set("startSeconds", result_.startSeconds);
    o.Set("bytes", static_cast<double>(result_.bytes));
    o.Set("frames", static_cast<double>(result_.frames));
    o.Set("startsOnKeyframe", result_.startsOnKeyframe);
    deferred_.Resolve(o);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<std::string> inputs_;
  double start_, end_;
  std::string output_, error_;
  ClipResult result_;
};

// exportClip({ inputs: string[], start, end, output }) -> Promise<{ durationSeconds, startSeconds, bytes, ... }>
Napi::Value ExportClipJs(const Napi::CallbackInfo& info) {
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Array arr = o.Get("inputs").As<Napi::Array>();
  std::vector<std::string> inputs;
  for (uint32_t i = 0; i < arr.Length(); i++) inputs.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
  auto* w = new ClipWorker(info.Env(), std::move(inputs), o.Get("start").As<Napi::Number>().DoubleValue(),
                           o.Get("end").As<Napi::Number>().DoubleValue(), o.Get("output").As<Napi::String>().Utf8Value());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

std::string Version(unsigned v) {
  return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 0xff) + "." + std::to_string(v & 0xff);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const char* logEnv = std::getenv("GUARDIAN_AV_LOG");
  av_log_set_level(logEnv && *logEnv ? AV_LOG_WARNING : AV_LOG_QUIET);
  av_log_set_callback(RedactingLog);
  avformat_network_init();
  env.AddCleanupHook([] { Source::StopAll(); });

  exports.Set("NativeSource", Source::Init(env));
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("v4l2Query", Napi::Function::New(env, V4l2Query));
  exports.Set("MotionDetector", MotionDetector::Init(env));
  exports.Set("exportClip", Napi::Function::New(env, ExportClipJs));
  Napi::Object versions = Napi::Object::New(env);
  versions.Set("libavformat", Version(avformat_version()));
  versions.Set("libavcodec", Version(avcodec_version()));
  versions.Set("libswscale", Version(swscale_version()));
  versions.Set("libavutil", Version(avutil_version()));
  exports.Set("versions", versions);
  return exports;
}

}  // namespace
}  // namespace guardian

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return guardian::Init(env, exports); }
NODE_API_MODULE(guardian, InitAddon)
