#include "source_options.h"

#include <algorithm>

#include "js_fields.h"

namespace guardian {

namespace {
void ReadInput(const Fields& f, InputOptions* in) {
  in->url = f.String("url");
  in->label = f.String("label");
  in->transport = f.String("transport");
  in->connectTimeoutMs = static_cast<int64_t>(f.Number("connectTimeoutMs"));
  in->readTimeoutMs = static_cast<int64_t>(f.Number("readTimeoutMs"));
  if (f.Has("videoSize")) in->videoSize = f.String("videoSize");
  if (f.Has("frameRate")) in->frameRate = f.String("frameRate");
  if (f.Has("inputFormat")) in->inputFormat = f.String("inputFormat");
  in->protocolWhitelist = f.String("protocolWhitelist");
  in->formatWhitelist = f.String("formatWhitelist");
}

TensorSpec ReadTensor(const Fields& t) {
  TensorSpec spec;
  spec.size = static_cast<int>(t.Number("size"));
  spec.letterbox = t.String("resize") == "letterbox";
  spec.pad = static_cast<int>(t.Number("pad"));
  spec.bgr = t.String("channels") == "bgr";
  spec.float32 = t.String("layout") == "nchw-float32";
  t.Triple("mean", spec.mean);
  t.Triple("std", spec.std);
  return spec;
}
}  // namespace

InputOptions ParseInputOptions(const Napi::Value& value, const char* what) {
  InputOptions in;
  ReadInput(Fields(value, what), &in);
  return in;
}

SourceOptions ParseSourceOptions(const Napi::Value& value, Napi::Function* onRecord) {
  Fields f(value, "NativeSource options");
  SourceOptions o;
  ReadInput(f, &o.input);
  o.decoder.hwaccel = f.String("hwaccel");
  if (f.Has("vaapiDevice")) o.decoder.vaapiDevice = f.String("vaapiDevice");
  o.decoder.threads = static_cast<int>(f.Number("threads"));
  o.sampleFps = f.Number("sampleFps");
  o.motionWidth = static_cast<int>(f.Number("motionWidth"));
  o.dropWhenBusy = f.String("backpressure") == "drop";
  // The clamps only keep the native queues sound; bindings/ has already refused such values.
  o.queueSize = static_cast<size_t>(std::max(1.0, f.Number("queueSize")));
  o.realtime = f.Bool("realtime");
  o.loop = f.Bool("loop");
  o.snapshotFrames = static_cast<size_t>(std::max(0.0, f.Number("snapshotFrames")));
  o.decode = f.Bool("decode");
  if (f.Has("record")) {
    Fields r = f.Object("record");
    o.record = true;
    o.recorder.dir = r.String("dir");
    o.recorder.camera = r.String("camera");
    o.recorder.segmentSeconds = r.Number("segmentSeconds");
  }
  if (f.Has("tensor")) o.tensor = ReadTensor(f.Object("tensor"));
  if (f.Has("onRecord")) *onRecord = f.Function("onRecord");
  return o;
}

}  // namespace guardian
