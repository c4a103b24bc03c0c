// Colour conversion and scaling of decoded frames into model tensors and grey motion planes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

namespace guardian {

// Set from bindings/ (tensor options and presets live in bindings/options.ts); the initial values mean "no tensor".
struct TensorSpec {
  int size = 0;                     // square side S; 0 = no tensor
  bool letterbox = false;           // false = stretch to S x S
  int pad = 0;                      // letterbox fill value (0-255, before normalisation)
  bool bgr = false;                 // channel order: BGR or RGB
  bool float32 = false;             // float32 NCHW; otherwise uint8 NHWC
  float mean[3] = {0, 0, 0};        // per output channel, applied to float32 only
  float std[3] = {1, 1, 1};
};

struct Letterbox {
  double scale = 1;   // model pixels per source pixel (x and y equal in letterbox mode)
  double scaleY = 1;  // differs from scale in stretch mode
  int width = 0, height = 0;  // size of the image inside the tensor
};

// Caches one SwsContext per (source format/size, destination) so per-frame work is only the scaling itself.
class Scaler {
 public:
  ~Scaler();
  Scaler() = default;
  Scaler(const Scaler&) = delete;
  Scaler& operator=(const Scaler&) = delete;
  // Scales src into dst planes of format dstFmt (w x h). Returns false on failure.
  bool Scale(const AVFrame* src, AVPixelFormat dstFmt, int w, int h, uint8_t* const dst[4], const int dstStride[4],
             int flags = SWS_BILINEAR);

 private:
  SwsContext* ctx_ = nullptr;
  int srcW_ = 0, srcH_ = 0, srcFmt_ = -1, dstW_ = 0, dstH_ = 0, dstFmt_ = -1, flags_ = 0;
};

class FrameConverter {
 public:
  ~FrameConverter();
  // A cheaper source for scaling down to at most w x h: the frame itself, or 2x2 box-averaged copies of a planar
  // 4:2:0 frame, halved while still at least twice the target size (swscale's cost grows with the input area).
  const AVFrame* Reduce(const AVFrame* frame, int w, int h);
  // Writes the tensor into out (TensorBytes(spec) bytes). Geometry follows the original size srcW x srcH; pixels
  // come from `frame`, which may be a reduced copy. Returns false on failure.
  bool Tensor(const AVFrame* frame, int srcW, int srcH, const TensorSpec& spec, uint8_t* out, Letterbox* lb);
  // Writes a grey plane of width w and height h into out.
  bool Motion(const AVFrame* frame, int w, int h, uint8_t* out);
  static void TensorContentSize(int srcW, int srcH, const TensorSpec& spec, int* w, int* h);

 private:
  Scaler tensorScaler_, motionScaler_;
  const AVFrame* Halve(const AVFrame* frame, AVFrame*& out);
  AVFrame* halves_[3] = {nullptr, nullptr, nullptr};  // successive 2x2 box-averaged copies
  std::vector<uint8_t> rgb_;  // scaled packed image before letterbox/normalisation
};

size_t TensorBytes(const TensorSpec& spec);
int MotionHeight(int srcW, int srcH, int w);

}  // namespace guardian
