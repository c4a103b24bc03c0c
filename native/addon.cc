// Entry point of the guardian native addon: the media core (sources, probing, snapshots) and the archive format's
// segment cipher.
#include <napi.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

#include "clip_export.h"
#ifdef GUARDIAN_GCM
#include "gcm.h"
#endif
#include "input.h"
#include "js_error.h"
#include "motion.h"
#include "source.h"
#include "source_js.h"
#include "source_options.h"
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

// probe({ url, label, transport, connectTimeoutMs, readTimeoutMs }) -> Promise<stream info>
Napi::Value Probe(const Napi::CallbackInfo& info) {
  InputOptions opts = ParseInputOptions(info[0], "probe options");
  auto* worker = new ProbeWorker(info.Env(), std::move(opts));
  Napi::Promise p = worker->Promise();
  worker->Queue();
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

  // bindings/native.ts hands over its GuardianError class once, right after loading: every error made here is one.
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass));
  exports.Set("NativeSource", Source::Init(env));
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("v4l2Query", Napi::Function::New(env, V4l2Query));
  exports.Set("MotionDetector", MotionDetector::Init(env));
  exports.Set("exportClip", Napi::Function::New(env, ExportClipJs));
#ifdef GUARDIAN_GCM
  // Absent from a build without OpenSSL headers: the archive format then stays on node:crypto.
  exports.Set("GcmSegments", GcmSegments::Init(env));
  exports.Set("gcmInfo", Napi::Function::New(env, GcmInfo));
#endif
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
