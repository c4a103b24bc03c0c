// Opening a source (file, RTSP/RTSPS URL, V4L2 device) and describing its video stream.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "errors.h"

extern "C" {
#include <libavformat/avformat.h>
}

namespace guardian {

// Every field comes from bindings/ (which owns the defaults); see source_options.h.
struct InputOptions {
  std::string url;
  std::string label;      // redacted name used in messages
  std::string transport;  // rtsp: tcp | udp
  int64_t connectTimeoutMs = 0;
  int64_t readTimeoutMs = 0;
  // V4L2 only (empty = device default).
  std::string videoSize;
  std::string frameRate;
  std::string inputFormat;
  // What FFmpeg may open (protocol_whitelist, format_whitelist): bindings/options.ts inputWhitelists, by kind.
  std::string protocolWhitelist;
  std::string formatWhitelist;
};

// Shared with FFmpeg's interrupt callback so blocking I/O can be abandoned on close or deadline.
struct InterruptState {
  std::atomic<bool>* closing = nullptr;
  std::atomic<int64_t> deadlineUs{0};  // av_gettime_relative() deadline, 0 = none
  std::atomic<bool> timedOut{false};
  void Arm(int64_t timeoutMs);
  void Disarm() { deadlineUs = 0; }
};

struct StreamInfo {
  std::string codec, profile, pixelFormat, container;
  int width = 0, height = 0;
  double fps = 0;
  int timeBaseNum = 0, timeBaseDen = 1;
  double durationSeconds = -1;  // < 0 = unknown (live)
  int64_t bitRate = 0;
  int64_t frameCount = -1;  // from the container, < 0 = unknown
  bool live = false;
};

enum class SourceKind { File, Rtsp, V4l2 };
SourceKind KindOf(const std::string& url);

class Input {
 public:
  Input(InputOptions opts, std::atomic<bool>* closing);
  ~Input();
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  MediaError Open();
  // Reads the next packet of any stream; returns 0, AVERROR_EOF or an error (see LastError()).
  int ReadPacket(AVPacket* pkt);
  MediaError ErrorFor(const std::string& what, int averr) const;
  int SeekToStart();

  AVFormatContext* format() const { return fmt_; }
  AVStream* videoStream() const { return fmt_->streams[videoIndex_]; }
  int videoIndex() const { return videoIndex_; }
  const AVCodec* decoder() const { return decoder_; }
  const StreamInfo& info() const { return info_; }
  const InputOptions& options() const { return opts_; }
  SourceKind kind() const { return kind_; }

 private:
  InputOptions opts_;
  SourceKind kind_;
  InterruptState interrupt_;
  AVFormatContext* fmt_ = nullptr;
  const AVCodec* decoder_ = nullptr;
  int videoIndex_ = -1;
  StreamInfo info_;
};

}  // namespace guardian
