// snapshot() and cropTensor(): work on a recent sampled frame, done on the libuv pool from the worker's own
// reference to the frame, so neither the decode nor the conversion thread waits for it.
#include "source.h"

#include <algorithm>
#include <cstring>

#include "jpeg.h"
#include "js_error.h"
#include "js_fields.h"
#include "source_js.h"

namespace guardian {

namespace {

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
    // FFmpeg keeps the data pointers aligned by moving the left edge down (a wider crop than asked); the right and
    // bottom edges stay. Report where the crop really starts, or every box decoded from it lands that far right.
    const int right = x_ + w_;
    const int bottom = y_ + h_;
    if (av_frame_apply_cropping(frame_, 0) < 0) {
      err_ = {"MEDIA_ERROR", "cannot crop frame"};
      return;
    }
    x_ = right - frame_->width;
    y_ = bottom - frame_->height;
    data_.resize(TensorBytes(spec_) + kSlack);
    FrameConverter conv;
    const AVFrame* src = conv.Reduce(frame_, spec_.size, spec_.size);
    if (!conv.Tensor(src, frame_->width, frame_->height, spec_, data_.data(), &lb_))
      err_ = {"MEDIA_ERROR", "cannot convert crop"};
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!err_.ok()) return deferred_.Reject(JsError(env, err_).Value());
    const size_t bytes = TensorBytes(spec_);
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, bytes);
    std::memcpy(ab.Data(), data_.data(), bytes);
    Napi::Object t = TensorObject(env, ab, bytes, spec_, lb_);
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
  MediaError err_;
  std::vector<uint8_t> data_;
};
}  // namespace

Napi::Value Source::Snapshot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // snapshot(index, width, quality), each validated by bindings/ (index < 0: the newest; width 0: full size).
  const int64_t index = static_cast<int64_t>(NumberArg(info, 0, "index"));
  const int width = static_cast<int>(NumberArg(info, 1, "width"));
  const int quality = static_cast<int>(NumberArg(info, 2, "quality"));
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
// The region is validated by bindings/ and clamped to the frame here.
Napi::Value Source::CropTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t index = static_cast<int64_t>(NumberArg(info, 0, "index"));
  const int x = static_cast<int>(NumberArg(info, 1, "x")), y = static_cast<int>(NumberArg(info, 2, "y"));
  const int w = static_cast<int>(NumberArg(info, 3, "width")), h = static_cast<int>(NumberArg(info, 4, "height"));
  AVFrame* frame = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& s : snapshots_)
      if (s.first == index) frame = av_frame_clone(s.second);
  }
  if (!frame || opts_.tensor.size <= 0) {
    av_frame_free(&frame);
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

}  // namespace guardian
