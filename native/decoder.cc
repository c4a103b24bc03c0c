#include "decoder.h"

#include <dirent.h>

#include <algorithm>
#include <vector>

extern "C" {
#include <libavutil/hwcontext.h>
#include <libavutil/pixdesc.h>
}

namespace guardian {

std::string FirstRenderNode() {
  std::vector<std::string> nodes;
  if (DIR* dir = opendir("/dev/dri")) {
    while (dirent* e = readdir(dir)) {
      std::string name = e->d_name;
      if (name.rfind("renderD", 0) == 0) nodes.push_back("/dev/dri/" + name);
    }
    closedir(dir);
  }
  std::sort(nodes.begin(), nodes.end());
  return nodes.empty() ? "" : nodes.front();
}

Decoder::~Decoder() {
  avcodec_free_context(&ctx_);
  av_buffer_unref(&hwDevice_);
}

enum AVPixelFormat Decoder::PickFormat(AVCodecContext* ctx, const enum AVPixelFormat* fmts) {
  for (const enum AVPixelFormat* p = fmts; *p != AV_PIX_FMT_NONE; p++)
    if (*p == AV_PIX_FMT_VAAPI && ctx->hw_device_ctx) return *p;
  // The hardware path is not offered for this stream: take the first software format.
  for (const enum AVPixelFormat* p = fmts; *p != AV_PIX_FMT_NONE; p++) {
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(*p);
    if (d && !(d->flags & AV_PIX_FMT_FLAG_HWACCEL)) return *p;
  }
  return AV_PIX_FMT_NONE;
}

MediaError Decoder::Open(const AVStream* stream, const AVCodec* codec, const DecoderOptions& opts,
                         const std::string& label) {
  ctx_ = avcodec_alloc_context3(codec);
  if (!ctx_) return MakeError("OUT_OF_MEMORY", label + ": cannot allocate decoder");
  int ret = avcodec_parameters_to_context(ctx_, stream->codecpar);
  if (ret < 0) return MakeError(label, "cannot configure decoder", ret);
  ctx_->pkt_timebase = stream->time_base;
  ctx_->thread_count = opts.threads;
  ctx_->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;

  bool wantHw = opts.hwaccel == "vaapi";
  std::string device = opts.vaapiDevice.empty() ? FirstRenderNode() : opts.vaapiDevice;
  if (opts.hwaccel == "auto") wantHw = !device.empty();
  if (opts.hwaccel == "auto" && device.empty()) hwaccelError_ = "no /dev/dri/renderD* device";
  if (wantHw) {
    bool supported = false;
    for (int i = 0;; i++) {
      const AVCodecHWConfig* cfg = avcodec_get_hw_config(codec, i);
      if (!cfg) break;
      if (cfg->device_type == AV_HWDEVICE_TYPE_VAAPI && (cfg->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX))
        supported = true;
    }
    if (!supported) {
      hwaccelError_ = std::string("decoder ") + codec->name + " has no VAAPI support";
    } else if (device.empty()) {
      hwaccelError_ = "no /dev/dri/renderD* device";
    } else if ((ret = av_hwdevice_ctx_create(&hwDevice_, AV_HWDEVICE_TYPE_VAAPI, device.c_str(), nullptr, 0)) < 0) {
      hwaccelError_ = "cannot open VAAPI device " + device + ": " + DescribeAvError(ret);
    } else {
      ctx_->hw_device_ctx = av_buffer_ref(hwDevice_);
      ctx_->get_format = PickFormat;
      hwaccel_ = "vaapi";
    }
  }

  ret = avcodec_open2(ctx_, codec, nullptr);
  if (ret < 0 && hwaccel_ == "vaapi") {
    // Hardware init failed at open: retry in software rather than failing the camera.
    hwaccelError_ = "VAAPI decoder failed to open: " + DescribeAvError(ret);
    hwaccel_ = "none";
    avcodec_free_context(&ctx_);
    DecoderOptions sw = opts;
    sw.hwaccel = "none";
    std::string reason = hwaccelError_;
    MediaError e = Open(stream, codec, sw, label);
    hwaccelError_ = reason;
    return e;
  }
  if (ret < 0) return MakeError(label, std::string("cannot open ") + codec->name + " decoder", ret);
  return {};
}

const AVFrame* Decoder::ToSoftware(const AVFrame* frame, AVFrame* scratch, int* err) {
  *err = 0;
  if (frame->format != AV_PIX_FMT_VAAPI) return frame;
  av_frame_unref(scratch);
  *err = av_hwframe_transfer_data(scratch, frame, 0);
  if (*err < 0) return nullptr;
  av_frame_copy_props(scratch, frame);
  return scratch;
}

}  // namespace guardian
