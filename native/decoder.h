// Video decoder with optional VAAPI hardware decoding and a software fallback.
#pragma once
#include <string>

#include "errors.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace guardian {

struct DecoderOptions {  // set from bindings/, which owns the defaults
  std::string hwaccel;      // auto | vaapi | none
  std::string vaapiDevice;  // empty = first /dev/dri/renderD*
  int threads = 0;          // 0 = FFmpeg decides
};

class Decoder {
 public:
  ~Decoder();
  MediaError Open(const AVStream* stream, const AVCodec* codec, const DecoderOptions& opts, const std::string& label);
  int Send(const AVPacket* pkt) { return avcodec_send_packet(ctx_, pkt); }
  int Receive(AVFrame* frame) { return avcodec_receive_frame(ctx_, frame); }
  void Flush() { avcodec_flush_buffers(ctx_); }
  // Returns a frame in system memory: the frame itself, or `scratch` filled from GPU memory.
  const AVFrame* ToSoftware(const AVFrame* frame, AVFrame* scratch, int* err);

  const std::string& hwaccel() const { return hwaccel_; }          // what actually runs: vaapi | none
  const std::string& hwaccelError() const { return hwaccelError_; }  // why hardware decode is not used

 private:
  static enum AVPixelFormat PickFormat(AVCodecContext* ctx, const enum AVPixelFormat* fmts);
  AVCodecContext* ctx_ = nullptr;
  AVBufferRef* hwDevice_ = nullptr;
  std::string hwaccel_ = "none";
  std::string hwaccelError_;
};

std::string FirstRenderNode();

}  // namespace guardian
