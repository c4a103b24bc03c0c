#include "jpeg.h"

#include <algorithm>
#include <cmath>

#include "convert.h"

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace guardian {

MediaError EncodeJpeg(const AVFrame* frame, int width, int quality, std::vector<uint8_t>* out) {
  int w = width > 0 ? std::min(width, frame->width) : frame->width;
  int h = width > 0 ? static_cast<int>(std::lround(static_cast<double>(w) * frame->height / frame->width)) : frame->height;
  w &= ~1;
  h = std::max(2, h & ~1);

  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (!codec) return MakeError("UNSUPPORTED_CODEC", "this FFmpeg has no MJPEG encoder");
  AVCodecContext* ctx = avcodec_alloc_context3(codec);
  AVFrame* yuv = av_frame_alloc();
  AVPacket* pkt = av_packet_alloc();
  MediaError err;
  auto fail = [&](const char* what, int ret) { err = MakeError("snapshot", what, ret); };

  ctx->width = w;
  ctx->height = h;
  ctx->time_base = AVRational{1, 25};
  // yuvj420p is accepted by the MJPEG encoder from FFmpeg 5.1 through 7.x.
  ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
  ctx->color_range = AVCOL_RANGE_JPEG;
  ctx->flags |= AV_CODEC_FLAG_QSCALE;
  int q = 2 + (100 - std::clamp(quality, 1, 100)) * 29 / 99;  // quality 100 -> qscale 2, 1 -> 31
  ctx->global_quality = FF_QP2LAMBDA * q;

  int ret = avcodec_open2(ctx, codec, nullptr);
  if (ret < 0) {
    fail("cannot open JPEG encoder", ret);
  } else {
    yuv->format = AV_PIX_FMT_YUVJ420P;
    yuv->width = w;
    yuv->height = h;
    yuv->color_range = AVCOL_RANGE_JPEG;
    yuv->quality = ctx->global_quality;
    yuv->pts = 0;
    if ((ret = av_frame_get_buffer(yuv, 0)) < 0) {
      fail("cannot allocate frame", ret);
    } else {
      Scaler scaler;
      // Full-range output to match the JPEG colour space.
      if (!scaler.Scale(frame, AV_PIX_FMT_YUVJ420P, w, h, yuv->data, yuv->linesize, SWS_BICUBIC)) {
        err = MakeError("MEDIA_ERROR", "snapshot: cannot scale frame");
      } else if ((ret = avcodec_send_frame(ctx, yuv)) < 0 || (ret = avcodec_send_frame(ctx, nullptr)) < 0) {
        fail("cannot encode JPEG", ret);
      } else if ((ret = avcodec_receive_packet(ctx, pkt)) < 0) {
        fail("cannot encode JPEG", ret);
      } else {
        out->assign(pkt->data, pkt->data + pkt->size);
      }
    }
  }
  av_packet_free(&pkt);
  av_frame_free(&yuv);
  avcodec_free_context(&ctx);
  return err;
}

}  // namespace guardian
