#include "source.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "jpeg.h"

namespace guardian {

namespace {
constexpr size_t kSlack = 64;  // swscale may write a little past the end of a row

double NowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}
double MonoSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
bool IsKeyframe(const AVFrame* f) {
#ifdef AV_FRAME_FLAG_KEY
  return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
  return f->key_frame != 0;
#endif
}
std::string Str(const Napi::Object& o, const char* key, const std::string& def) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : def;
}
double Num(const Napi::Object& o, const char* key, double def) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : def;
}
bool Bool(const Napi::Object& o, const char* key, bool def) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : def;
}
struct ExternalHint {
  std::shared_ptr<BufferPool> pool;
  size_t bytes;
};
void FreeExternal(Napi::Env env, void* data, ExternalHint* hint) {
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(hint->bytes));
  hint->pool->Put(static_cast<uint8_t*>(data), hint->bytes);
  delete hint;
}

// Snapshot encoding runs on the libuv pool; it owns its own reference to the frame.
class SnapshotWorker : public Napi::AsyncWorker {
 public:
  SnapshotWorker(Napi::Env env, AVFrame* frame, int width, int quality)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), frame_(frame), width_(width),
        quality_(quality) {}
  ~SnapshotWorker() override { av_frame_free(&frame_); }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { err_ = EncodeJpeg(frame_, width_, quality_, &jpeg_); }
  void OnOK() override {
    if (!err_.ok()) return deferred_.Reject(JsError(Env(), err_).Value());
    deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(Env(), jpeg_.data(), jpeg_.size()));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  AVFrame* frame_;
  int width_, quality_;
  MediaError err_;
  std::vector<uint8_t> jpeg_;
};
// A model tensor from a region of a recent frame (detection on a crop around motion), on the libuv pool.
class CropTensorWorker : public Napi::AsyncWorker {
 public:
  CropTensorWorker(Napi::Env env, AVFrame* frame, int x, int y, int w, int h, TensorSpec spec)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), frame_(frame), x_(x), y_(y), w_(w),
        h_(h), spec_(spec) {}
  ~CropTensorWorker() override { av_frame_free(&frame_); }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    // Chroma is subsampled: keep the crop on even coordinates.
    x_ = std::clamp(x_ & ~1, 0, frame_->width - 2);
    y_ = std::clamp(y_ & ~1, 0, frame_->height - 2);
    w_ = std::clamp(w_ & ~1, 2, frame_->width - x_);
    h_ = std::clamp(h_ & ~1, 2, frame_->height - y_);
    frame_->crop_left = x_;
    frame_->crop_top = y_;
    frame_->crop_right = frame_->width - x_ - w_;
    frame_->crop_bottom = frame_->height - y_ - h_;
    if (av_frame_apply_cropping(frame_, 0) < 0) return SetError("cannot crop frame");
    data_.resize(TensorBytes(spec_) + kSlack);
    FrameConverter conv;
    const AVFrame* src = conv.Reduce(frame_, spec_.size, spec_.size);
    if (!conv.Tensor(src, frame_->width, frame_->height, spec_, data_.data(), &lb_)) SetError("cannot convert crop");
  }
  void OnOK() override {
    Napi::Env env = Env();
    const size_t bytes = TensorBytes(spec_);
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, bytes);
    std::memcpy(ab.Data(), data_.data(), bytes);
    Napi::Object t = Napi::Object::New(env);
    if (spec_.float32) t.Set("data", Napi::Float32Array::New(env, bytes / 4, ab, 0));
    else t.Set("data", Napi::Uint8Array::New(env, bytes, ab, 0));
    t.Set("size", spec_.size);
    t.Set("scaleX", lb_.scale);
    t.Set("scaleY", lb_.scaleY);
    t.Set("contentWidth", lb_.width);
    t.Set("contentHeight", lb_.height);
    t.Set("offsetX", x_);
    t.Set("offsetY", y_);
    deferred_.Resolve(t);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  AVFrame* frame_;
  int x_, y_, w_, h_;
  TensorSpec spec_;
  Letterbox lb_;
  std::vector<uint8_t> data_;
};
}  // namespace

std::set<Source*>& LiveSources() {
  static std::set<Source*> sources;
  return sources;
}
std::mutex& LiveSourcesMutex() {
  static std::mutex mu;
  return mu;
}

// Environment teardown: a source the process forgot to close must not outlive it.
void Source::StopAll() {
  std::lock_guard<std::mutex> lock(LiveSourcesMutex());
  for (Source* s : LiveSources()) s->StopThread();
}

Sample::~Sample() {
  pool->Put(tensor, tensorBytes + kSlack);
  pool->Put(motion, static_cast<size_t>(motionWidth) * motionHeight + kSlack);
}

Napi::Error JsError(Napi::Env env, const MediaError& e) {
  Napi::Error err = Napi::Error::New(env, e.message);
  err.Set("code", Napi::String::New(env, e.code));
  return err;
}

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

Napi::Function Source::Init(Napi::Env env) {
  return DefineClass(env, "NativeSource",
                     {InstanceMethod<&Source::Open>("open"), InstanceMethod<&Source::Read>("read"),
                      InstanceMethod<&Source::Snapshot>("snapshot"), InstanceMethod<&Source::CropTensor>("cropTensor"),
                      InstanceMethod<&Source::Stats>("stats"),
                      InstanceMethod<&Source::Close>("close")});
}

// Options arrive already validated by bindings/ (TypeScript); here they are only copied.
Source::Source(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Source>(info) {
  Napi::Object o = info[0].As<Napi::Object>();
  opts_.input.url = Str(o, "url", "");
  opts_.input.label = Str(o, "label", "");
  opts_.input.transport = Str(o, "transport", "tcp");
  opts_.input.connectTimeoutMs = static_cast<int64_t>(Num(o, "connectTimeoutMs", 10000));
  opts_.input.readTimeoutMs = static_cast<int64_t>(Num(o, "readTimeoutMs", 10000));
  opts_.input.videoSize = Str(o, "videoSize", "");
  opts_.input.frameRate = Str(o, "frameRate", "");
  opts_.input.inputFormat = Str(o, "inputFormat", "");
  opts_.decoder.hwaccel = Str(o, "hwaccel", "auto");
  opts_.decoder.vaapiDevice = Str(o, "vaapiDevice", "");
  opts_.decoder.threads = static_cast<int>(Num(o, "threads", 0));
  opts_.sampleFps = Num(o, "sampleFps", 0);
  opts_.motionWidth = static_cast<int>(Num(o, "motionWidth", 0));
  opts_.dropWhenBusy = Str(o, "backpressure", "drop") == "drop";
  opts_.queueSize = static_cast<size_t>(std::max(1.0, Num(o, "queueSize", 1)));
  opts_.realtime = Bool(o, "realtime", false);
  opts_.loop = Bool(o, "loop", false);
  opts_.snapshotFrames = static_cast<size_t>(std::max(0.0, Num(o, "snapshotFrames", 4)));
  opts_.decode = Bool(o, "decode", true);
  Napi::Value rec = o.Get("record");
  if (rec.IsObject()) {
    Napi::Object r = rec.As<Napi::Object>();
    opts_.record = true;
    opts_.recorder.dir = Str(r, "dir", "");
    opts_.recorder.camera = Str(r, "camera", "camera");
    opts_.recorder.segmentSeconds = Num(r, "segmentSeconds", 10);
  }
  Napi::Value onRecord = o.Get("onRecord");
  if (onRecord.IsFunction()) onRecord_ = Napi::Persistent(onRecord.As<Napi::Function>());
  Napi::Value t = o.Get("tensor");
  if (t.IsObject()) {
    Napi::Object to = t.As<Napi::Object>();
    opts_.tensor.size = static_cast<int>(Num(to, "size", 0));
    opts_.tensor.letterbox = Str(to, "resize", "letterbox") == "letterbox";
    opts_.tensor.pad = static_cast<int>(Num(to, "pad", 114));
    opts_.tensor.bgr = Str(to, "channels", "bgr") == "bgr";
    opts_.tensor.float32 = Str(to, "layout", "nchw-float32") == "nchw-float32";
    Napi::Value mean = to.Get("mean"), sd = to.Get("std");
    for (uint32_t i = 0; i < 3; i++) {
      if (mean.IsArray()) opts_.tensor.mean[i] = mean.As<Napi::Array>().Get(i).As<Napi::Number>().FloatValue();
      if (sd.IsArray()) opts_.tensor.std[i] = sd.As<Napi::Array>().Get(i).As<Napi::Number>().FloatValue();
    }
  }
  std::lock_guard<std::mutex> lock(LiveSourcesMutex());
  LiveSources().insert(this);
}

Source::~Source() {
  {
    std::lock_guard<std::mutex> lock(LiveSourcesMutex());
    LiveSources().erase(this);
  }
  StopThread();
  av_frame_free(&scratch_);
  for (auto& s : snapshots_) av_frame_free(&s.second);
}

void Source::StopThread() {
  closing_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Napi::Value Source::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (phase_ != Phase::Idle || closing_) {
    deferred.Reject(JsError(env, {"INVALID_STATE", opts_.input.label + ": open() may be called once"}).Value());
    return deferred.Promise();
  }
  openDeferred_ = std::make_unique<Napi::Promise::Deferred>(deferred);
  phase_ = Phase::Opening;
  tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                        "guardian-source", 0, 1, [this](Napi::Env fenv) {
                                          // All notifications have run and the thread has finished.
                                          tsfnAlive_ = false;
                                          if (thread_.joinable()) thread_.join();
                                          Settle(fenv);
                                          Unref();
                                        });
  tsfnAlive_ = true;
  Ref();  // keep this object alive while the thread runs
  scratch_ = av_frame_alloc();
  thread_ = std::thread([this] { Run(); });
  return deferred.Promise();
}

void Source::Notify() {
  if (notifyPending_.exchange(true)) return;  // one pending wake-up is enough
  tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function) {
    notifyPending_ = false;
    Settle(env);
  });
}

void Source::Run() {
  Input input(opts_.input, &closing_);
  Decoder decoder;
  MediaError err = input.Open();
  if (err.ok() && opts_.decode)
    err = decoder.Open(input.videoStream(), input.decoder(), opts_.decoder, opts_.input.label);
  {
    std::lock_guard<std::mutex> lock(mu_);
    info_ = input.info();
    hwaccel_ = decoder.hwaccel();
    hwaccelError_ = decoder.hwaccelError();
    if (!err.ok()) {
      openError_ = err;
      phase_ = Phase::Ended;
    } else {
      phase_ = Phase::Running;
    }
  }
  Notify();
  if (err.ok()) {
    // Conversion runs on its own thread so tensor work overlaps with decoding instead of delaying it.
    std::thread converter([this] { ConvertLoop(); });
    std::unique_ptr<SegmentRecorder> recorder;
    if (opts_.record)
      recorder = std::make_unique<SegmentRecorder>(opts_.recorder, [this](RecorderEvent e) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          recordEvents_.push_back(std::move(e));
        }
        Notify();
      });
    try {
      Loop(input, decoder, recorder.get());
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu_);
      endError_ = MakeError("MEDIA_ERROR", opts_.input.label + ": " + e.what());
    }
    recorder.reset();  // finishes the segment being written
    {
      std::lock_guard<std::mutex> lock(mu_);
      decodeDone_ = true;
    }
    cv_.notify_all();
    converter.join();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = Phase::Ended;
    threadExited_ = true;
  }
  notifyPending_ = false;
  Notify();
  tsfn_.Release();
}

void Source::Loop(Input& input, Decoder& decoder, SegmentRecorder* recorder) {
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  const AVStream* stream = input.videoStream();
  const double tb = av_q2d(stream->time_base);
  const double frameInterval = input.info().fps > 0 ? 1.0 / input.info().fps : 0.04;
  MediaError fatal;

  auto drain = [&]() {
    int r;
    while ((r = decoder.Receive(frame)) >= 0) {
      HandleFrame(decoder, frame, stream);
      av_frame_unref(frame);
    }
    return r;
  };

  while (!closing_) {
    int ret = input.ReadPacket(pkt);
    if (ret == AVERROR(EAGAIN)) {  // V4L2 without a frame ready
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(5), [this] { return closing_.load(); });
      continue;
    }
    if (ret == AVERROR_EOF || (ret < 0 && input.kind() == SourceKind::File && ret != AVERROR_EXIT)) {
      // End of file (a truncated file ends here too; what was decodable has been delivered).
      if (ret != AVERROR_EOF) {
        std::lock_guard<std::mutex> lock(mu_);
        counters_.decodeErrors++;
      }
      if (opts_.decode) {
        decoder.Send(nullptr);
        drain();
        decoder.Flush();
      }
      if (!opts_.loop || closing_ || firstPacketPts_ < 0) {
        // A file whose index promises more frames than it holds was cut short (copy interrupted, disk full...).
        std::lock_guard<std::mutex> lock(mu_);
        const int64_t expected = input.info().frameCount;
        if (!closing_ && expected > 0 && counters_.videoPackets < expected)
          fatal = MakeError("CORRUPT_DATA", opts_.input.label + ": file is truncated: read " +
                                                std::to_string(counters_.videoPackets) + " of " +
                                                std::to_string(expected) + " frames");
        break;
      }
      if (input.SeekToStart() < 0) {
        fatal = input.ErrorFor("cannot loop", ret);
        break;
      }
      // Timestamps continue across the loop as if the file were one endless stream.
      loopOffset_ += (maxPacketPts_ - firstPacketPts_) + frameInterval;
      firstPacketPts_ = -1;
      maxPacketPts_ = -1;
      std::lock_guard<std::mutex> lock(mu_);
      counters_.loops++;
      continue;
    }
    if (ret < 0) {
      fatal = input.ErrorFor("read failed", ret);
      break;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      counters_.packets++;
      counters_.bytes += pkt->size;
      counters_.lastPacketWallMs = NowMs();
    }
    if (pkt->stream_index != input.videoIndex()) {
      av_packet_unref(pkt);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      counters_.videoPackets++;
      if (pkt->flags & AV_PKT_FLAG_KEY) counters_.keyframes++;
    }
    if (pkt->pts != AV_NOPTS_VALUE) {
      const double p = pkt->pts * tb;
      if (firstPacketPts_ < 0 || p < firstPacketPts_) firstPacketPts_ = p;
      if (p > maxPacketPts_) maxPacketPts_ = p;
    }
    if (opts_.realtime) {
      int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
      if (ts != AV_NOPTS_VALUE) Pace(ts * tb + loopOffset_);
    }
    // Recording first, from the packet as it arrived: it does not depend on decoding succeeding.
    if (recorder) recorder->Write(pkt, stream, static_cast<int64_t>(std::llround(loopOffset_ / tb)));
    if (!opts_.decode) {
      av_packet_unref(pkt);
      continue;
    }
    ret = decoder.Send(pkt);
    av_packet_unref(pkt);
    if (ret < 0 && ret != AVERROR(EAGAIN)) {
      // A damaged packet is counted and skipped: a live camera must survive a corrupt frame.
      std::lock_guard<std::mutex> lock(mu_);
      counters_.decodeErrors++;
      continue;
    }
    ret = drain();
    if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) {
      std::lock_guard<std::mutex> lock(mu_);
      counters_.decodeErrors++;
    }
  }
  av_packet_free(&pkt);
  av_frame_free(&frame);
  std::lock_guard<std::mutex> lock(mu_);
  if (!fatal.ok() && !closing_) endError_ = fatal;
}

void Source::Pace(double t) {
  double now = MonoSeconds();
  if (paceWall_ < 0 || t < pacePts_ || (t - pacePts_) - (now - paceWall_) > 5 || (now - paceWall_) - (t - pacePts_) > 1) {
    // (Re)anchor at the start, on a timestamp jump, or after falling far behind.
    paceWall_ = now;
    pacePts_ = t;
    return;
  }
  double wait = (t - pacePts_) - (now - paceWall_);
  if (wait <= 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::duration<double>(wait), [this] { return closing_.load(); });
}

void Source::HandleFrame(Decoder& decoder, const AVFrame* frame, const AVStream* stream) {
  const double tb = av_q2d(stream->time_base);
  double pts;
  if (frame->best_effort_timestamp != AV_NOPTS_VALUE) pts = frame->best_effort_timestamp * tb;
  else pts = lastFramePts_ >= 0 ? lastFramePts_ - loopOffset_ + (info_.fps > 0 ? 1.0 / info_.fps : 0.04) : 0;
  pts += loopOffset_;
  lastFramePts_ = pts;
  const bool key = IsKeyframe(frame);
  {
    std::lock_guard<std::mutex> lock(mu_);
    counters_.decoded++;
    counters_.lastPts = pts;
  }

  // Sample by presentation time so the rate holds whatever the source frame rate is.
  if (opts_.sampleFps > 0) {
    const double interval = 1.0 / opts_.sampleFps;
    const bool jumpedBack = nextSample_ >= 0 && pts + interval * 4 < nextSample_;
    if (nextSample_ >= 0 && pts + 1e-3 < nextSample_ && !jumpedBack) return;
    nextSample_ = (nextSample_ < 0 || jumpedBack || pts > nextSample_ + interval) ? pts + interval : nextSample_ + interval;
  }

  int err = 0;
  const AVFrame* sw = decoder.ToSoftware(frame, scratch_, &err);
  AVFrame* ref = sw ? av_frame_clone(sw) : nullptr;
  std::unique_lock<std::mutex> lock(mu_);
  if (!ref) {
    counters_.decodeErrors++;
    return;
  }
  Pending p{counters_.sampled++, pts, NowMs(), key, ref};
  if (opts_.dropWhenBusy) {
    // Never stall demux: a frame still waiting for conversion is replaced by the newer one.
    while (!convertQueue_.empty()) {
      av_frame_free(&convertQueue_.front().frame);
      convertQueue_.pop_front();
      counters_.dropped++;
    }
  } else {
    cv_.wait(lock, [this] { return convertQueue_.size() < 4 || closing_.load(); });
    if (closing_) {
      av_frame_free(&p.frame);
      return;
    }
  }
  convertQueue_.push_back(p);
  lock.unlock();
  cv_.notify_all();
}

void Source::ConvertLoop() {
#ifdef __linux__
  // Analysis yields to demux/decode: a late conversion costs a dropped sample, a late decode costs the stream.
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
#endif
  for (;;) {
    Pending p;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !convertQueue_.empty() || decodeDone_ || closing_.load(); });
      if (closing_ || convertQueue_.empty()) break;
      p = convertQueue_.front();
      convertQueue_.pop_front();
    }
    cv_.notify_all();  // room for the decoder
    Convert(p);
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& p : convertQueue_) av_frame_free(&p.frame);
  convertQueue_.clear();
}

void Source::Convert(Pending& p) {
  const auto started = std::chrono::steady_clock::now();
  const AVFrame* sw = p.frame;
  auto s = std::make_unique<Sample>();
  s->pool = pool_;
  s->index = p.index;
  s->pts = p.pts;
  s->wallClockMs = p.wallClockMs;
  s->keyframe = p.keyframe;
  s->width = sw->width;
  s->height = sw->height;
  bool ok = true;
  int needW = 0, needH = 0;
  if (opts_.tensor.size > 0) FrameConverter::TensorContentSize(sw->width, sw->height, opts_.tensor, &needW, &needH);
  if (opts_.motionWidth > 0) {
    s->motionWidth = std::min(opts_.motionWidth, sw->width);
    s->motionHeight = MotionHeight(sw->width, sw->height, s->motionWidth);
    needW = std::max(needW, s->motionWidth);
    needH = std::max(needH, s->motionHeight);
  }
  const AVFrame* src = converter_.Reduce(sw, needW, needH);
  if (opts_.tensor.size > 0) {
    s->tensorBytes = TensorBytes(opts_.tensor);
    s->tensor = pool_->Get(s->tensorBytes + kSlack);
    ok = s->tensor && converter_.Tensor(src, sw->width, sw->height, opts_.tensor, s->tensor, &s->letterbox);
  }
  // Model pre-processing time: the shared reduction and the tensor (the motion plane is not for the model).
  s->tensorMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (ok && opts_.motionWidth > 0) {
    s->motion = pool_->Get(static_cast<size_t>(s->motionWidth) * s->motionHeight + kSlack);
    ok = s->motion && converter_.Motion(src, s->motionWidth, s->motionHeight, s->motion);
  }

  s->convertMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::unique_lock<std::mutex> lock(mu_);
  if (!ok) {
    counters_.decodeErrors++;
    av_frame_free(&p.frame);
    return;
  }
  if (opts_.snapshotFrames > 0) {
    snapshots_.emplace_back(s->index, p.frame);  // the ring now owns the frame
    p.frame = nullptr;
    while (snapshots_.size() > opts_.snapshotFrames) {
      av_frame_free(&snapshots_.front().second);
      snapshots_.pop_front();
    }
  } else {
    av_frame_free(&p.frame);
  }
  if (opts_.dropWhenBusy) {
    // Live sources: the newest frame replaces what JS has not taken yet.
    while (queue_.size() >= opts_.queueSize) {
      queue_.pop_front();
      counters_.dropped++;
    }
  } else {
    cv_.wait(lock, [this] { return queue_.size() < opts_.queueSize || closing_.load(); });
    if (closing_) return;
  }
  s->decoded = counters_.decoded;
  s->sampled = counters_.sampled;
  s->dropped = counters_.dropped;
  queue_.push_back(std::move(s));
  lock.unlock();
  Notify();
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
    Napi::Object tensor = Napi::Object::New(env);
    if (opts_.tensor.float32) tensor.Set("data", Napi::Float32Array::New(env, bytes / 4, ab, 0));
    else tensor.Set("data", Napi::Uint8Array::New(env, bytes, ab, 0));
    tensor.Set("size", opts_.tensor.size);
    tensor.Set("scaleX", s->letterbox.scale);
    tensor.Set("scaleY", s->letterbox.scaleY);
    tensor.Set("contentWidth", s->letterbox.width);
    tensor.Set("contentHeight", s->letterbox.height);
    o.Set("tensor", tensor);
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

// Runs on the JS thread: resolves whatever promises the native state now allows.
void Source::Settle(Napi::Env env) {
  Napi::HandleScope scope(env);
  std::unique_ptr<Sample> sample;
  bool ended, exited, opening;
  MediaError openErr, endErr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended = phase_ == Phase::Ended;
    opening = phase_ == Phase::Opening;
    if (closing_) queue_.clear();  // after close() nothing more is delivered
    exited = threadExited_;
    openErr = openError_;
    if (readDeferred_ && !queue_.empty()) {
      sample = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();  // room in the queue for a waiting decoder
    }
    if (readDeferred_ && !sample && ended && !endError_.ok() && !endErrorReported_) {
      endErr = endError_;
      endErrorReported_ = true;
    }
  }
  std::deque<RecorderEvent> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events.swap(recordEvents_);
  }
  if (!onRecord_.IsEmpty()) {
    for (const RecorderEvent& e : events) {
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
      try {
        onRecord_.Call({o});
      } catch (const Napi::Error&) {
        // A failing listener must not stop delivery of the other events.
      }
    }
  }
  if (openDeferred_ && !opening) {
    auto d = std::move(openDeferred_);
    if (!openErr.ok()) d->Reject(JsError(env, openErr).Value());
    else d->Resolve(InfoObject(env));
  }
  if (readDeferred_) {
    if (sample) {
      auto d = std::move(readDeferred_);
      d->Resolve(FrameObject(env, std::move(sample)));
    } else if (!endErr.ok()) {
      auto d = std::move(readDeferred_);
      d->Reject(JsError(env, endErr).Value());
    } else if (closing_ || (ended && exited)) {
      // Queue drained and the thread is gone: end of stream.
      bool empty;
      {
        std::lock_guard<std::mutex> lock(mu_);
        empty = queue_.empty();
      }
      if (empty) {
        auto d = std::move(readDeferred_);
        d->Resolve(env.Null());
      }
    }
  }
  if (exited && !closeDeferreds_.empty() && !tsfnAlive_) {
    for (auto& d : closeDeferreds_) d.Resolve(env.Undefined());
    closeDeferreds_.clear();
  }
  if (tsfnAlive_) {
    // Keep the event loop alive only while someone awaits this source.
    if (openDeferred_ || readDeferred_ || !closeDeferreds_.empty()) tsfn_.Ref(env);
    else tsfn_.Unref(env);
  }
}

Napi::Value Source::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (readDeferred_) {
    deferred.Reject(JsError(env, {"INVALID_STATE", opts_.input.label + ": a read() is already pending"}).Value());
    return deferred.Promise();
  }
  if (phase_ == Phase::Idle) {
    deferred.Reject(JsError(env, {"INVALID_STATE", opts_.input.label + ": read() before open()"}).Value());
    return deferred.Promise();
  }
  readDeferred_ = std::make_unique<Napi::Promise::Deferred>(deferred);
  Settle(env);
  return deferred.Promise();
}

Napi::Value Source::Snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t index = info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : -1;
  int width = info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
  int quality = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 85;
  AVFrame* frame = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : snapshots_)
      if (index < 0 || s.first == index) frame = s.second;  // index < 0: the newest
    if (frame) frame = av_frame_clone(frame);
  }
  if (!frame) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(JsError(env, {"NO_FRAME", opts_.input.label + ": frame " + std::to_string(index) +
                                           " is no longer available for a snapshot"})
                 .Value());
    return d.Promise();
  }
  auto* worker = new SnapshotWorker(env, frame, width, quality);
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

// cropTensor(index, x, y, w, h) -> Promise<tensor> of that region of a recent sampled frame, same tensor layout.
Napi::Value Source::CropTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t index = info[0].As<Napi::Number>().Int64Value();
  int x = info[1].As<Napi::Number>().Int32Value(), y = info[2].As<Napi::Number>().Int32Value();
  int w = info[3].As<Napi::Number>().Int32Value(), h = info[4].As<Napi::Number>().Int32Value();
  AVFrame* frame = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : snapshots_)
      if (s.first == index) frame = av_frame_clone(s.second);
  }
  if (!frame || opts_.tensor.size <= 0) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Reject(JsError(env, {"NO_FRAME", opts_.input.label + ": frame " + std::to_string(index) +
                                           " is no longer available (or no tensor is configured)"})
                 .Value());
    return d.Promise();
  }
  auto* worker = new CropTensorWorker(env, frame, x, y, w, h, opts_.tensor);
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
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
  o.Set("queued", static_cast<double>(queue_.size()));
  o.Set("lastPacketWallMs", counters_.lastPacketWallMs > 0 ? Napi::Number::New(env, counters_.lastPacketWallMs) : env.Null());
  o.Set("lastPts", counters_.lastPts >= 0 ? Napi::Number::New(env, counters_.lastPts) : env.Null());
  o.Set("hwaccel", hwaccel_);
  return o;
}

Napi::Value Source::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  closing_ = true;
  cv_.notify_all();
  if (!tsfnAlive_) {
    // Never opened, or already finished.
    if (thread_.joinable()) thread_.join();
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  closeDeferreds_.push_back(deferred);
  tsfn_.Ref(env);
  return deferred.Promise();
}

}  // namespace guardian
