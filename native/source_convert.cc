// The conversion thread (nice +10): a sampled frame becomes the model tensor and the grey motion plane, in pooled
// buffers that JS will own; the frame itself stays in the snapshot ring.
#include "source.h"

#include <algorithm>
#include <chrono>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace guardian {

Sample::~Sample() {
  pool->Put(tensor, tensorBytes + kSlack);
  pool->Put(motion, static_cast<size_t>(motionWidth) * motionHeight + kSlack);
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
}  // namespace guardian
