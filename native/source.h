// A media source as a JS object: demux + decode on a native thread, sampled frames handed to JS.
//
// The class is implemented by concern, one file each:
//   source.cc          lifecycle on the JS thread: construction, open(), read(), close(), settling promises
//   source_options.cc  the options object bindings/ passes (every field required; no defaults here)
//   source_decode.cc   the decode thread: demux, recording, decoding, pacing, sampling
//   source_convert.cc  the conversion thread: tensors and motion planes into pooled buffers
//   source_workers.cc  snapshot() and cropTensor(): work on recent frames on the libuv pool
//   source_js.cc       JS objects: frames, stream info, stats, recorder events
#pragma once
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "buffer_pool.h"
#include "convert.h"
#include "decoder.h"
#include "input.h"
#include "recorder.h"
#include "source_options.h"

namespace guardian {

// Extra bytes at the end of every pooled buffer: swscale may write a little past the end of a row.
constexpr size_t kSlack = 64;

// One sampled frame: buffers come from the pool and are handed to JS, whose finalizer gives them back.
struct Sample {
  std::shared_ptr<BufferPool> pool;
  int64_t index = 0;
  double pts = 0;
  double wallClockMs = 0;
  bool keyframe = false;
  double convertMs = 0;  // time spent making the tensor and motion plane
  double tensorMs = 0;   // of which the model tensor
  int64_t decoded = 0, sampled = 0, dropped = 0;
  int width = 0, height = 0;
  uint8_t* tensor = nullptr;
  size_t tensorBytes = 0;
  uint8_t* motion = nullptr;
  int motionWidth = 0, motionHeight = 0;
  Letterbox letterbox;
  ~Sample();
};

struct Counters {
  int64_t videoPackets = 0, packets = 0, bytes = 0, decoded = 0, sampled = 0, dropped = 0, decodeErrors = 0, keyframes = 0, loops = 0;
  int64_t skippedPackets = 0;  // video packets not decoded because only keyframes were (still recorded)
  bool keyframesOnly = false;  // the decode mode in effect (it changes at a keyframe)
  double lastPacketWallMs = 0, lastPts = -1;
};

class Source : public Napi::ObjectWrap<Source> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Source(const Napi::CallbackInfo& info);
  ~Source() override;
  static void StopAll();

 private:
  enum class Phase { Idle, Opening, Running, Ended };

  // A sampled frame between the decode thread and the conversion thread.
  struct Pending {
    int64_t index = 0;
    double pts = 0, wallClockMs = 0;
    bool keyframe = false;
    AVFrame* frame = nullptr;
  };

  // source.cc (JS thread)
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void Notify();  // any thread: wake the JS thread to Settle
  void Settle(Napi::Env env);
  void StopThread();
  // source_decode.cc (decode thread)
  void Run();
  void Loop(Input& input, Decoder& decoder, SegmentRecorder* recorder);
  void HandleFrame(Decoder& decoder, const AVFrame* frame, const AVStream* stream);
  void Pace(double t);
  // source_convert.cc (conversion thread)
  void ConvertLoop();
  void Convert(Pending& p);
  // source_workers.cc (JS thread; the work runs on the libuv pool)
  Napi::Value Snapshot(const Napi::CallbackInfo& info);
  Napi::Value CropTensor(const Napi::CallbackInfo& info);
  // source_js.cc (JS thread)
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value SetKeyframesOnly(const Napi::CallbackInfo& info);
  Napi::Object InfoObject(Napi::Env env);
  Napi::Object FrameObject(Napi::Env env, std::unique_ptr<Sample> s);

  SourceOptions opts_;
  std::thread thread_;
  std::atomic<bool> closing_{false};
  std::atomic<bool> notifyPending_{false};
  std::atomic<bool> keyframesOnlyWanted_{false};  // set by JS: decode keyframes only (an idle camera)
  Napi::ThreadSafeFunction tsfn_;
  bool tsfnAlive_ = false;  // JS thread only

  std::mutex mu_;
  std::condition_variable cv_;
  Phase phase_ = Phase::Idle;
  bool threadExited_ = false;
  MediaError openError_, endError_;
  bool endErrorReported_ = false;
  StreamInfo info_;
  std::string hwaccel_ = "none", hwaccelError_;
  std::deque<std::unique_ptr<Sample>> queue_;  // converted frames waiting for JS
  std::deque<Pending> convertQueue_;           // sampled frames waiting for conversion
  std::deque<RecorderEvent> recordEvents_;  // segment finished, paused, resumed: delivered to onRecord
  Napi::FunctionReference onRecord_;
  std::shared_ptr<BufferPool> pool_ = std::make_shared<BufferPool>(16);
  bool decodeDone_ = false;
  std::deque<std::pair<int64_t, AVFrame*>> snapshots_;  // recent sampled frames, for JPEG on request
  Counters counters_;

  FrameConverter converter_;  // conversion thread only
  // Decode-thread only.
  AVFrame* scratch_ = nullptr;
  double nextSample_ = -1, loopOffset_ = 0, lastFramePts_ = -1;
  double firstPacketPts_ = -1, maxPacketPts_ = -1;  // of the current pass over a looping file
  double paceWall_ = -1, pacePts_ = 0;

  // JS thread only.
  std::unique_ptr<Napi::Promise::Deferred> openDeferred_, readDeferred_;
  std::vector<Napi::Promise::Deferred> closeDeferreds_;
};

}  // namespace guardian
