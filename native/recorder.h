// Stream-copy recorder: packets of the recorded stream go, unchanged, into fragmented MP4 segments cut at keyframes.
// Written on the demux thread before (and independently of) decoding, so recording survives decoder or
// detection failures. A crash leaves the segment being written as "<name>.mp4.part", playable up to its last
// fragment; finished segments are renamed to "<name>.mp4".
#pragma once
#include <cstdint>
#include <functional>
#include <string>

extern "C" {
#include <libavformat/avformat.h>
}

namespace guardian {

struct RecorderOptions {  // set from bindings/, which owns the defaults
  std::string dir;     // camera root: <dir>/<YYYY-MM-DD>/<HH>/<camera>-<YYYYMMDD>-<HHMMSS>.mp4 (UTC)
  std::string camera;  // used in file names
  double segmentSeconds = 0;
};

struct RecorderEvent {
  std::string type;  // segment | paused | resumed | error
  std::string path;
  double startMs = 0, endMs = 0, durationSeconds = 0;
  int64_t bytes = 0, frames = 0;
  std::string code, message;
};

class SegmentRecorder {
 public:
  SegmentRecorder(RecorderOptions opts, std::function<void(RecorderEvent)> emit)
      : opts_(std::move(opts)), emit_(std::move(emit)) {}
  ~SegmentRecorder() { Finish(); }
  // offsetTs: added to the packet's timestamps (stream time base), e.g. when a file loops.
  void Write(const AVPacket* pkt, const AVStream* in, int64_t offsetTs);
  void Finish();
  bool paused() const { return paused_; }

 private:
  bool Open(const AVStream* in, int64_t dts, double wallMs);
  void CloseSegment(bool ok);
  void Fail(const std::string& what, int err);

  RecorderOptions opts_;
  std::function<void(RecorderEvent)> emit_;
  AVFormatContext* out_ = nullptr;
  std::string path_, partPath_;
  int64_t firstDts_ = 0, lastDts_ = 0, lastDuration_ = 0, frames_ = 0;
  AVRational tb_{1, 90000};
  double startMs_ = 0;
  // Wall clock of a segment start = anchor + stream time since the anchor, so segment times follow the media.
  double anchorWallMs_ = -1;
  int64_t anchorDts_ = 0;
  bool paused_ = false;
  double lastRetryMs_ = 0;
};

}  // namespace guardian
