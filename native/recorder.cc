#include "recorder.h"

#include <sys/stat.h>

#include <cerrno>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "errors.h"

namespace guardian {

namespace {
double NowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool MakeDirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); i++) {
    if (i == path.size() || path[i] == '/') {
      std::string part = path.substr(0, i);
      if (mkdir(part.c_str(), 0750) != 0 && errno != EEXIST) return false;
    }
  }
  return true;
}

int64_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}
}  // namespace

void SegmentRecorder::Fail(const std::string& what, int err) {
  RecorderEvent e;
  e.type = paused_ ? "error" : "paused";
  e.code = err == AVERROR(ENOSPC) ? "DISK_FULL" : CodeForAvError(err, false, false);
  e.message = what + ": " + DescribeAvError(err);
  e.path = path_;
  CloseSegment(false);
  if (!paused_) {
    paused_ = true;
    emit_(e);
  }
  lastRetryMs_ = NowMs();
}

bool SegmentRecorder::Open(const AVStream* in, int64_t dts, double wallMs) {
  time_t secs = static_cast<time_t>(wallMs / 1000);
  struct tm t {};
  gmtime_r(&secs, &t);
  char day[16], hour[8], stamp[32];
  strftime(day, sizeof day, "%Y-%m-%d", &t);
  strftime(hour, sizeof hour, "%H", &t);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &t);
  std::string dir = opts_.dir + "/" + day + "/" + hour;
  if (!MakeDirs(dir)) {
    Fail("cannot create " + dir, AVERROR(errno));
    return false;
  }
  path_ = dir + "/" + opts_.camera + "-" + stamp + ".mp4";
  // Two segments in one second (very short GOP): keep names unique.
  for (int n = 1; FileSize(path_) > 0 || FileSize(path_ + ".part") > 0; n++)
    path_ = dir + "/" + opts_.camera + "-" + stamp + "-" + std::to_string(n) + ".mp4";
  partPath_ = path_ + ".part";

  int ret = avformat_alloc_output_context2(&out_, nullptr, "mp4", partPath_.c_str());
  if (ret < 0 || !out_) {
    Fail("cannot create muxer", ret < 0 ? ret : AVERROR(ENOMEM));
    return false;
  }
  AVStream* st = avformat_new_stream(out_, nullptr);
  avcodec_parameters_copy(st->codecpar, in->codecpar);
  st->codecpar->codec_tag = 0;
  st->time_base = in->time_base;
  if ((ret = avio_open(&out_->pb, partPath_.c_str(), AVIO_FLAG_WRITE)) < 0) {
    Fail("cannot create " + partPath_, ret);
    return false;
  }
  AVDictionary* o = nullptr;
  // Fragmented MP4: every keyframe starts a fragment, so a crash loses at most the last GOP.
  av_dict_set(&o, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
  ret = avformat_write_header(out_, &o);
  av_dict_free(&o);
  if (ret < 0) {
    Fail("cannot write header", ret);
    return false;
  }
  tb_ = out_->streams[0]->time_base;
  firstDts_ = dts;
  lastDts_ = dts;
  frames_ = 0;
  startMs_ = wallMs;
  if (paused_) {
    paused_ = false;
    RecorderEvent e;
    e.type = "resumed";
    e.path = path_;
    emit_(e);
  }
  return true;
}

void SegmentRecorder::CloseSegment(bool ok) {
  if (!out_) return;
  bool written = ok && av_write_trailer(out_) >= 0;
  if (out_->pb) {
    avio_flush(out_->pb);
    if (out_->pb->error < 0) written = false;
    if (avio_closep(&out_->pb) < 0) written = false;
  }
  avformat_free_context(out_);
  out_ = nullptr;
  if (!written || frames_ == 0) {
    // Nothing usable finished: leave the .part file for startup reconciliation (it may hold whole fragments).
    if (frames_ == 0) std::remove(partPath_.c_str());
    return;
  }
  if (std::rename(partPath_.c_str(), path_.c_str()) != 0) return;
  RecorderEvent e;
  e.type = "segment";
  e.path = path_;
  e.startMs = startMs_;
  e.durationSeconds = (lastDts_ + lastDuration_ - firstDts_) * av_q2d(tb_);
  e.endMs = startMs_ + e.durationSeconds * 1000;
  e.bytes = FileSize(path_);
  e.frames = frames_;
  emit_(e);
}

void SegmentRecorder::Write(const AVPacket* pkt, const AVStream* in, int64_t offsetTs) {
  int64_t dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
  if (dts == AV_NOPTS_VALUE) return;  // cannot place it in time
  dts += offsetTs;
  int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts + offsetTs : dts;
  const bool key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
  const double now = NowMs();
  double wall = anchorWallMs_ + (dts - anchorDts_) * av_q2d(in->time_base) * 1000;
  if (anchorWallMs_ < 0 || std::fabs(wall - now) > 2000 || dts < anchorDts_) {
    // First packet, or media time and arrival time disagree by more than 2 s (a stall, a burst, a timestamp
    // jump): re-anchor on now, so segment times stay within 2 s of when the video really arrived.
    anchorWallMs_ = now;
    anchorDts_ = dts;
    wall = now;
  }

  if (out_ && key && (dts - firstDts_) * av_q2d(in->time_base) >= opts_.segmentSeconds) CloseSegment(true);
  if (!out_) {
    if (!key) return;                                   // segments start on a keyframe
    if (paused_ && now - lastRetryMs_ < 2000) return;   // disk full: retry every 2 s
    if (!Open(in, dts, wall)) return;
  }
  if (dts < lastDts_) return;  // non-monotonic timestamps (stream restart): skip rather than corrupt the file
  AVPacket* copy = av_packet_clone(pkt);
  copy->stream_index = 0;
  copy->pts = pts - firstDts_;
  copy->dts = dts - firstDts_;
  copy->pos = -1;
  av_packet_rescale_ts(copy, in->time_base, tb_);
  lastDuration_ = pkt->duration > 0 ? pkt->duration : (dts > lastDts_ ? dts - lastDts_ : 0);
  lastDts_ = dts;
  int ret = av_write_frame(out_, copy);
  av_packet_free(&copy);
  // Write errors (ENOSPC...) surface in the I/O context, not always in av_write_frame's result.
  if (ret >= 0 && out_->pb && out_->pb->error < 0) ret = out_->pb->error;
  if (ret < 0) {
    Fail("cannot write " + partPath_, ret);
    return;
  }
  frames_++;
}

void SegmentRecorder::Finish() { CloseSegment(true); }

}  // namespace guardian
