#include "input.h"

#include <mutex>

extern "C" {
#include <libavdevice/avdevice.h>
#include <libavutil/pixdesc.h>
#include <libavutil/time.h>
}

namespace guardian {

namespace {
int InterruptCallback(void* opaque) {
  auto* st = static_cast<InterruptState*>(opaque);
  if (st->closing && st->closing->load()) return 1;
  int64_t deadline = st->deadlineUs.load();
  if (deadline > 0 && av_gettime_relative() > deadline) {
    st->timedOut = true;
    return 1;
  }
  return 0;
}

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }
}  // namespace

void InterruptState::Arm(int64_t timeoutMs) {
  timedOut = false;
  deadlineUs = timeoutMs > 0 ? av_gettime_relative() + timeoutMs * 1000 : 0;
}

SourceKind KindOf(const std::string& url) {
  if (StartsWith(url, "rtsp://") || StartsWith(url, "rtsps://")) return SourceKind::Rtsp;
  if (StartsWith(url, "/dev/video")) return SourceKind::V4l2;
  return SourceKind::File;
}

Input::Input(InputOptions opts, std::atomic<bool>* closing) : opts_(std::move(opts)), kind_(KindOf(opts_.url)) {
  interrupt_.closing = closing;
  if (opts_.label.empty()) opts_.label = RedactUrl(opts_.url);
}

Input::~Input() {
  if (fmt_) avformat_close_input(&fmt_);
}

MediaError Input::ErrorFor(const std::string& what, int averr) const {
  // Found by test/security/native-fuzz.test.ts: a file cut inside its header or index ended in MEDIA_ERROR ("End of
  // file") while one cut inside its media data is CORRUPT_DATA; both are a truncated file.
  if (kind_ == SourceKind::File && averr == AVERROR_EOF)
    return MakeError("CORRUPT_DATA", opts_.label + ": " + what + ": the file ends early (truncated)");
  return MakeError(opts_.label, what, averr, interrupt_.timedOut.load(),
                   interrupt_.closing && interrupt_.closing->load());
}

MediaError Input::Open() {
  static std::once_flag devicesRegistered;
  std::call_once(devicesRegistered, [] { avdevice_register_all(); });

  fmt_ = avformat_alloc_context();
  if (!fmt_) return MakeError("OUT_OF_MEMORY", opts_.label + ": cannot allocate demuxer");
  fmt_->interrupt_callback.callback = InterruptCallback;
  fmt_->interrupt_callback.opaque = &interrupt_;

  AVDictionary* dict = nullptr;
  const AVInputFormat* forced = nullptr;
  if (kind_ == SourceKind::Rtsp) {
    av_dict_set(&dict, "rtsp_transport", opts_.transport.c_str(), 0);
    // Socket I/O timeout in microseconds (the interrupt deadline is the backstop).
    av_dict_set_int(&dict, "timeout", opts_.readTimeoutMs * 1000, 0);
    av_dict_set(&dict, "allowed_media_types", "video", 0);
  } else if (kind_ == SourceKind::V4l2) {
    forced = av_find_input_format("video4linux2");
    if (!opts_.videoSize.empty()) av_dict_set(&dict, "video_size", opts_.videoSize.c_str(), 0);
    if (!opts_.frameRate.empty()) av_dict_set(&dict, "framerate", opts_.frameRate.c_str(), 0);
    if (!opts_.inputFormat.empty()) av_dict_set(&dict, "input_format", opts_.inputFormat.c_str(), 0);
  }

  // Only what this kind of source needs can ever open: no playlist reading other files, no http from a file.
  av_dict_set(&dict, "protocol_whitelist", opts_.protocolWhitelist.c_str(), 0);
  av_dict_set(&dict, "format_whitelist", opts_.formatWhitelist.c_str(), 0);

  interrupt_.Arm(opts_.connectTimeoutMs);
  int ret = avformat_open_input(&fmt_, opts_.url.c_str(), forced, &dict);
  av_dict_free(&dict);
  if (ret < 0) {
    // avformat_open_input frees the context on failure.
    fmt_ = nullptr;
    // EINVAL from a file that exists: its container is not on the format whitelist (an audio file, a playlist...).
    if (ret == AVERROR(EINVAL) && kind_ == SourceKind::File)
      return MakeError("UNSUPPORTED_INPUT", opts_.label + ": not a video container Guardian reads");
    return ErrorFor("cannot open", ret);
  }
  // The RTSP demuxer follows 3xx redirects to any address: the edge checked and pinned this one, so a stream from
  // another is never used (the camera, or whoever answers for it, chose where it went).
  if (kind_ == SourceKind::Rtsp && fmt_->url && opts_.url != fmt_->url)
    return MakeError("FORBIDDEN", opts_.label + ": the camera redirected to another address");
  interrupt_.Arm(opts_.connectTimeoutMs);
  ret = avformat_find_stream_info(fmt_, nullptr);
  if (ret < 0) return ErrorFor("cannot read stream information", ret);
  interrupt_.Disarm();

  ret = av_find_best_stream(fmt_, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder_, 0);
  if (ret == AVERROR_STREAM_NOT_FOUND) return MakeError("UNSUPPORTED_INPUT", opts_.label + ": no video stream");
  if (ret == AVERROR_DECODER_NOT_FOUND) {
    const AVCodecParameters* par = nullptr;
    for (unsigned i = 0; i < fmt_->nb_streams; i++)
      if (fmt_->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) par = fmt_->streams[i]->codecpar;
    std::string name = par ? avcodec_get_name(par->codec_id) : "unknown";
    return MakeError("UNSUPPORTED_CODEC", opts_.label + ": no decoder for video codec " + name);
  }
  if (ret < 0) return ErrorFor("cannot select video stream", ret);
  videoIndex_ = ret;
  // Discard other streams so the demuxer does not spend time on them.
  for (unsigned i = 0; i < fmt_->nb_streams; i++)
    if (static_cast<int>(i) != videoIndex_) fmt_->streams[i]->discard = AVDISCARD_ALL;

  AVStream* st = fmt_->streams[videoIndex_];
  AVCodecParameters* par = st->codecpar;
  info_.codec = avcodec_get_name(par->codec_id);
  const char* profile = avcodec_profile_name(par->codec_id, par->profile);
  info_.profile = profile ? profile : "";
  const char* pix = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format));
  info_.pixelFormat = pix ? pix : "";
  info_.container = fmt_->iformat && fmt_->iformat->name ? fmt_->iformat->name : "";
  info_.width = par->width;
  info_.height = par->height;
  AVRational fr = av_guess_frame_rate(fmt_, st, nullptr);
  info_.fps = fr.num > 0 && fr.den > 0 ? av_q2d(fr) : 0;
  info_.timeBaseNum = st->time_base.num;
  info_.timeBaseDen = st->time_base.den;
  info_.live = kind_ != SourceKind::File;
  if (!info_.live) {
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) info_.durationSeconds = st->duration * av_q2d(st->time_base);
    else if (fmt_->duration != AV_NOPTS_VALUE && fmt_->duration > 0)
      info_.durationSeconds = fmt_->duration / static_cast<double>(AV_TIME_BASE);
  }
  info_.bitRate = par->bit_rate > 0 ? par->bit_rate : fmt_->bit_rate;
  info_.frameCount = st->nb_frames > 0 ? st->nb_frames : -1;
  return {};
}

int Input::ReadPacket(AVPacket* pkt) {
  if (kind_ != SourceKind::File) interrupt_.Arm(opts_.readTimeoutMs);
  int ret = av_read_frame(fmt_, pkt);
  interrupt_.Disarm();
  return ret;
}

int Input::SeekToStart() {
  AVStream* st = videoStream();
  int64_t ts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
  return av_seek_frame(fmt_, videoIndex_, ts, AVSEEK_FLAG_BACKWARD);
}

}  // namespace guardian
