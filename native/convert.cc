#include "convert.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace guardian {

namespace {
// Area averaging: antialiased like OpenCV's INTER_AREA, and about half the taps of swscale's bilinear when shrinking.
constexpr int kTensorScaleFlags = SWS_AREA;

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

FrameConverter::~FrameConverter() {
  for (AVFrame*& f : halves_) av_frame_free(&f);
}

void FrameConverter::TensorContentSize(int srcW, int srcH, const TensorSpec& spec, int* w, int* h) {
  const int S = spec.size;
  if (!spec.letterbox) {
    *w = *h = S;
    return;
  }
  double r = std::min(static_cast<double>(S) / srcW, static_cast<double>(S) / srcH);
  // Same rounding as the YOLOX reference preprocessing: int(w * r).
  *w = std::max(1, std::min(S, static_cast<int>(srcW * r)));
  *h = std::max(1, std::min(S, static_cast<int>(srcH * r)));
}

const AVFrame* FrameConverter::Reduce(const AVFrame* frame, int w, int h) {
  // Halve while the frame stays at least twice the target: 1080p -> 960x540 -> 480x270 for a 416 tensor.
  const AVFrame* f = frame;
  for (AVFrame*& buf : halves_) {
    const AVPixelFormat fmt = static_cast<AVPixelFormat>(f->format);
    if ((fmt != AV_PIX_FMT_YUV420P && fmt != AV_PIX_FMT_YUVJ420P) || f->width < 2 * w || f->height < 2 * h ||
        f->width < 4 || f->height < 4)
      break;
    const AVFrame* next = Halve(f, buf);
    if (next == f) break;
    f = next;
  }
  return f;
}

const AVFrame* FrameConverter::Halve(const AVFrame* frame, AVFrame*& out) {
  const AVPixelFormat fmt = static_cast<AVPixelFormat>(frame->format);
  const int hw = frame->width / 2, hh = frame->height / 2;
  if (!out || out->width != hw || out->height != hh || out->format != fmt) {
    av_frame_free(&out);
    out = av_frame_alloc();
    out->format = fmt;
    out->width = hw;
    out->height = hh;
    if (!out || av_frame_get_buffer(out, 32) < 0) {
      av_frame_free(&out);
      return frame;
    }
  }
  out->color_range = frame->color_range;
  out->colorspace = frame->colorspace;
  for (int p = 0; p < 3; p++) {
    const int pw = p == 0 ? hw : (hw + 1) / 2;
    const int ph = p == 0 ? hh : (hh + 1) / 2;
    const int srcPh = p == 0 ? frame->height : (frame->height + 1) / 2;
    const int srcPw = p == 0 ? frame->width : (frame->width + 1) / 2;
    for (int y = 0; y < ph; y++) {
      const int y0 = std::min(2 * y, srcPh - 1), y1 = std::min(2 * y + 1, srcPh - 1);
      const uint8_t* a = frame->data[p] + static_cast<ptrdiff_t>(y0) * frame->linesize[p];
      const uint8_t* b = frame->data[p] + static_cast<ptrdiff_t>(y1) * frame->linesize[p];
      uint8_t* o = out->data[p] + static_cast<ptrdiff_t>(y) * out->linesize[p];
      const int full = std::min(pw, srcPw / 2);
      int x = 0;
#ifdef __SSE2__
      // 16 output pixels per step, exactly (a + b + c + d + 2) >> 2 in 16-bit lanes.
      const __m128i lowBytes = _mm_set1_epi16(0x00ff);
      const __m128i two = _mm_set1_epi16(2);
      for (; x + 16 <= full; x += 16) {
        __m128i out[2];
        for (int k = 0; k < 2; k++) {
          __m128i va = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 * x + 16 * k));
          __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 * x + 16 * k));
          __m128i sum = _mm_add_epi16(_mm_add_epi16(_mm_and_si128(va, lowBytes), _mm_srli_epi16(va, 8)),
                                      _mm_add_epi16(_mm_and_si128(vb, lowBytes), _mm_srli_epi16(vb, 8)));
          out[k] = _mm_srli_epi16(_mm_add_epi16(sum, two), 2);
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o + x), _mm_packus_epi16(out[0], out[1]));
      }
#endif
      for (; x < full; x++)
        o[x] = static_cast<uint8_t>((a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1] + 2) >> 2);
      for (int x = full; x < pw; x++) o[x] = static_cast<uint8_t>((a[srcPw - 1] + b[srcPw - 1] + 1) >> 1);
    }
  }
  return out;
}

bool FrameConverter::Tensor(const AVFrame* frame, int srcW, int srcH, const TensorSpec& spec, uint8_t* out,
                            Letterbox* lb) {
  const int S = spec.size;
  int nw, nh;
  TensorContentSize(srcW, srcH, spec, &nw, &nh);
  if (spec.letterbox) {
    lb->scale = lb->scaleY = std::min(static_cast<double>(S) / srcW, static_cast<double>(S) / srcH);
  } else {
    lb->scale = static_cast<double>(S) / srcW;
    lb->scaleY = static_cast<double>(S) / srcH;
  }
  lb->width = nw;
  lb->height = nh;

  if (!spec.float32) {
    AVPixelFormat fmt = spec.bgr ? AV_PIX_FMT_BGR24 : AV_PIX_FMT_RGB24;
    // uint8 NHWC: scale straight into the tensor, then fill the padding.
    uint8_t* dst[4] = {out, nullptr, nullptr, nullptr};
    int stride[4] = {S * 3, 0, 0, 0};
    if (!tensorScaler_.Scale(frame, fmt, nw, nh, dst, stride, kTensorScaleFlags)) return false;
    for (int y = 0; y < S; y++) {
      uint8_t* row = out + static_cast<size_t>(y) * S * 3;
      if (y >= nh) std::memset(row, spec.pad, static_cast<size_t>(S) * 3);
      else if (nw < S) std::memset(row + nw * 3, spec.pad, static_cast<size_t>(S - nw) * 3);
    }
    return true;
  }

  // float32 NCHW: scale into planar G,B,R (swscale's GBRP) so each channel converts as one contiguous run.
  const size_t contentPlane = static_cast<size_t>(nw) * nh;
  rgb_.resize(contentPlane * 3 + 64);  // slack: swscale may write a little past a row
  uint8_t* planes[4] = {rgb_.data(), rgb_.data() + contentPlane, rgb_.data() + 2 * contentPlane, nullptr};
  int strides[4] = {nw, nw, nw, 0};
  if (!tensorScaler_.Scale(frame, AV_PIX_FMT_GBRP, nw, nh, planes, strides, kTensorScaleFlags)) return false;
  const uint8_t* g = planes[0];
  const uint8_t* b = planes[1];
  const uint8_t* r = planes[2];
  const uint8_t* order[3] = {spec.bgr ? b : r, g, spec.bgr ? r : b};

  float* t = reinterpret_cast<float*>(out);
  const size_t plane = static_cast<size_t>(S) * S;
  for (int c = 0; c < 3; c++) {
    const float k = 1.0f / spec.std[c];
    const float bias = -spec.mean[c] * k;
    const float padValue = spec.pad * k + bias;
    float* p = t + c * plane;
    for (int y = 0; y < S; y++) {
      float* row = p + static_cast<size_t>(y) * S;
      if (y >= nh) {
        std::fill(row, row + S, padValue);
        continue;
      }
      const uint8_t* src = order[c] + static_cast<size_t>(y) * nw;
      for (int x = 0; x < nw; x++) row[x] = src[x] * k + bias;
      std::fill(row + nw, row + S, padValue);
    }
  }
  return true;
}

bool FrameConverter::Motion(const AVFrame* frame, int w, int h, uint8_t* out) {
  uint8_t* dst[4] = {out, nullptr, nullptr, nullptr};
  int stride[4] = {w, 0, 0, 0};
  // Area averaging suppresses sensor noise that would otherwise look like motion.
  return motionScaler_.Scale(frame, AV_PIX_FMT_GRAY8, w, h, dst, stride, SWS_AREA);
}

}  // namespace guardian
