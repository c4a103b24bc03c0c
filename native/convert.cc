#include "convert.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace guardian {

namespace {
// JPEG-range YUV formats are deprecated in swscale; use the plain format and say the range is full.
AVPixelFormat Normalise(AVPixelFormat f, bool* fullRange) {
  *fullRange = false;
  switch (f) {
    case AV_PIX_FMT_YUVJ420P: *fullRange = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *fullRange = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *fullRange = true; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *fullRange = true; return AV_PIX_FMT_YUV440P;
    default: return f;
  }
}
}  // namespace

Scaler::~Scaler() { sws_freeContext(ctx_); }

bool Scaler::Scale(const AVFrame* src, AVPixelFormat dstFmt, int w, int h, uint8_t* const dst[4],
                   const int dstStride[4], int flags) {
  bool fullRange = false;
  AVPixelFormat srcFmt = Normalise(static_cast<AVPixelFormat>(src->format), &fullRange);
  fullRange = fullRange || src->color_range == AVCOL_RANGE_JPEG;
  if (!ctx_ || srcW_ != src->width || srcH_ != src->height || srcFmt_ != src->format || dstW_ != w || dstH_ != h ||
      dstFmt_ != dstFmt || flags_ != flags) {
    sws_freeContext(ctx_);
    ctx_ = sws_getContext(src->width, src->height, srcFmt, w, h, dstFmt, flags, nullptr, nullptr, nullptr);
    if (!ctx_) return false;
    if (fullRange) {
      int* invTable; int srcRange; int* table; int dstRange; int brightness, contrast, saturation;
      if (sws_getColorspaceDetails(ctx_, &invTable, &srcRange, &table, &dstRange, &brightness, &contrast,
                                   &saturation) >= 0)
        sws_setColorspaceDetails(ctx_, invTable, 1, table, dstRange, brightness, contrast, saturation);
    }
    srcW_ = src->width; srcH_ = src->height; srcFmt_ = src->format;
    dstW_ = w; dstH_ = h; dstFmt_ = dstFmt; flags_ = flags;
  }
  return sws_scale(ctx_, src->data, src->linesize, 0, src->height, dst, dstStride) == h;
}

size_t TensorBytes(const TensorSpec& spec) {
  size_t px = static_cast<size_t>(spec.size) * spec.size * 3;
  return spec.float32 ? px * sizeof(float) : px;
}

int MotionHeight(int srcW, int srcH, int w) {
  int h = static_cast<int>(std::lround(static_cast<double>(w) * srcH / srcW));
  return std::max(2, h & ~1);
}

bool FrameConverter::Tensor(const AVFrame* frame, const TensorSpec& spec, uint8_t* out, Letterbox* lb) {
  const int S = spec.size;
  int nw = S, nh = S;
  if (spec.letterbox) {
    double r = std::min(static_cast<double>(S) / frame->width, static_cast<double>(S) / frame->height);
    // Same rounding as the YOLOX reference preprocessing: int(w * r).
    nw = std::max(1, std::min(S, static_cast<int>(frame->width * r)));
    nh = std::max(1, std::min(S, static_cast<int>(frame->height * r)));
    lb->scale = lb->scaleY = r;
  } else {
    lb->scale = static_cast<double>(S) / frame->width;
    lb->scaleY = static_cast<double>(S) / frame->height;
  }
  lb->width = nw;
  lb->height = nh;
  AVPixelFormat fmt = spec.bgr ? AV_PIX_FMT_BGR24 : AV_PIX_FMT_RGB24;

  if (!spec.float32) {
    // uint8 NHWC: scale straight into the tensor, then fill the padding.
    uint8_t* dst[4] = {out, nullptr, nullptr, nullptr};
    int stride[4] = {S * 3, 0, 0, 0};
    if (!tensorScaler_.Scale(frame, fmt, nw, nh, dst, stride)) return false;
    for (int y = 0; y < S; y++) {
      uint8_t* row = out + static_cast<size_t>(y) * S * 3;
      if (y >= nh) std::memset(row, spec.pad, static_cast<size_t>(S) * 3);
      else if (nw < S) std::memset(row + nw * 3, spec.pad, static_cast<size_t>(S - nw) * 3);
    }
    return true;
  }

  rgb_.resize(static_cast<size_t>(nw) * nh * 3 + 64);  // swscale may write a little past the end of a row
  uint8_t* dst[4] = {rgb_.data(), nullptr, nullptr, nullptr};
  int stride[4] = {nw * 3, 0, 0, 0};
  if (!tensorScaler_.Scale(frame, fmt, nw, nh, dst, stride)) return false;

  float* t = reinterpret_cast<float*>(out);
  const size_t plane = static_cast<size_t>(S) * S;
  for (int c = 0; c < 3; c++) {
    const float k = 1.0f / spec.std[c];
    const float b = -spec.mean[c] * k;
    const float padValue = spec.pad * k + b;
    float* p = t + c * plane;
    for (int y = 0; y < S; y++) {
      float* row = p + static_cast<size_t>(y) * S;
      if (y >= nh) {
        std::fill(row, row + S, padValue);
        continue;
      }
      const uint8_t* src = rgb_.data() + static_cast<size_t>(y) * nw * 3 + c;
      for (int x = 0; x < nw; x++) row[x] = src[x * 3] * k + b;
      std::fill(row + nw, row + S, padValue);
    }
  }
  return true;
}

bool FrameConverter::Motion(const AVFrame* frame, int w, uint8_t* out, int* outH) {
  int h = MotionHeight(frame->width, frame->height, w);
  *outH = h;
  uint8_t* dst[4] = {out, nullptr, nullptr, nullptr};
  int stride[4] = {w, 0, 0, 0};
  // Area averaging suppresses sensor noise that would otherwise look like motion.
  return motionScaler_.Scale(frame, AV_PIX_FMT_GRAY8, w, h, dst, stride, SWS_AREA);
}

}  // namespace guardian
