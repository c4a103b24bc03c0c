// The decode thread: opens the input and the decoder, then demuxes, records, decodes, paces and samples frames
// by presentation time, handing them to the conversion thread.
#include "source.h"

#include <chrono>
#include <cmath>

namespace guardian {

namespace {
double NowMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch()).count();
}
double MonoSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
bool IsKeyframe(const AVFrame* f) {
#ifdef AV_FRAME_FLAG_KEY
  return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
  return f->key_frame != 0;
#endif
}
}  // namespace

void Source::Run() {
  Input input(opts_.input, &closing_);
  Decoder decoder;
  MediaError err = input.Open();
  if (err.ok() && opts_.decode)
    err = decoder.Open(input.videoStream(), input.decoder(), opts_.decoder, opts_.input.label);
  {
    std::lock_guard<std::mutex> lock(mu_);
    info_ = input.info();
    hwaccel_ = decoder.hwaccel();
    hwaccelError_ = decoder.hwaccelError();
    if (!err.ok()) {
      openError_ = err;
      phase_ = Phase::Ended;
    } else {
      phase_ = Phase::Running;
    }
  }
  Notify();
  if (err.ok()) {
    // Conversion runs on its own thread so tensor work overlaps with decoding instead of delaying it.
    std::thread converter([this] { ConvertLoop(); });
    std::unique_ptr<SegmentRecorder> recorder;
    if (opts_.record)
      recorder = std::make_unique<SegmentRecorder>(opts_.recorder, [this](RecorderEvent e) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          recordEvents_.push_back(std::move(e));
        }
        Notify();
      });
    try {
      Loop(input, decoder, recorder.get());
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(mu_);
      endError_ = MakeError("MEDIA_ERROR", opts_.input.label + ": " + e.what());
    }
    recorder.reset();  // finishes the segment being written
    {
      std::lock_guard<std::mutex> lock(mu_);
      decodeDone_ = true;
    }
    cv_.notify_all();
    converter.join();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    phase_ = Phase::Ended;
    threadExited_ = true;
  }
  notifyPending_ = false;
  Notify();
  tsfn_.Release();
}

void Source::Loop(Input& input, Decoder& decoder, SegmentRecorder* recorder) {
  AVPacket* pkt = av_packet_alloc();
  AVFrame* frame = av_frame_alloc();
  const AVStream* stream = input.videoStream();
  const double tb = av_q2d(stream->time_base);
  const double frameInterval = input.info().fps > 0 ? 1.0 / input.info().fps : 0.04;
  MediaError fatal;
  int64_t passDecoded = 0, passPackets = 0;  // counters at the start of this pass over a looping file
  bool keyframesOnly = false;                 // the decode mode in effect

  auto drain = [&]() {
    int r;
    while ((r = decoder.Receive(frame)) >= 0) {
      HandleFrame(decoder, frame, stream);
      av_frame_unref(frame);
    }
    return r;
  };

  while (!closing_) {
    int ret = input.ReadPacket(pkt);
    if (ret == AVERROR(EAGAIN)) {  // V4L2 without a frame ready
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(5), [this] { return closing_.load(); });
      continue;
    }
    if (ret == AVERROR_EOF || (ret < 0 && input.kind() == SourceKind::File && ret != AVERROR_EXIT)) {
      // End of file (a truncated file ends here too; what was decodable has been delivered).
      if (ret != AVERROR_EOF) {
        std::lock_guard<std::mutex> lock(mu_);
        counters_.decodeErrors++;
      }
      if (opts_.decode) {
        decoder.Send(nullptr);
        drain();
        decoder.Flush();
      }
      // Found by test/security/native-fuzz.test.ts: an input none of whose packets decodes (a damaged avcC or SPS,
      // a sample table with no entries) ended like a good file, with no frame and no error, and a looping one was
      // read again and again, busily, for ever. A pass that decoded nothing now ends the source with an error.
      // (counters_.decoded is written only by this thread.)
      const bool barren = opts_.decode && counters_.decoded == passDecoded;
      if (!opts_.loop || closing_ || firstPacketPts_ < 0 || barren) {
        // A file whose index promises more frames than it holds was cut short (copy interrupted, disk full...).
        std::lock_guard<std::mutex> lock(mu_);
        const int64_t expected = input.info().frameCount;
        const int64_t packets = counters_.videoPackets - passPackets;
        if (!closing_ && expected > 0 && counters_.videoPackets < expected)
          fatal = MakeError("CORRUPT_DATA", opts_.input.label + ": file is truncated: read " +
                                                std::to_string(counters_.videoPackets) + " of " +
                                                std::to_string(expected) + " frames");
        else if (!closing_ && barren)
          fatal = packets > 0 ? MakeError("CORRUPT_DATA", opts_.input.label + ": no decodable video frame in " +
                                                              std::to_string(packets) + " packets")
                  : input.kind() == SourceKind::File
                      ? MakeError("CORRUPT_DATA", opts_.input.label + ": no video frames")
                      : MakeError("PROTOCOL_ERROR", opts_.input.label + ": stream ended before any video");
        break;
      }
      if (input.SeekToStart() < 0) {
        fatal = input.ErrorFor("cannot loop", ret);
        break;
      }
      // Timestamps continue across the loop as if the file were one endless stream.
      loopOffset_ += (maxPacketPts_ - firstPacketPts_) + frameInterval;
      firstPacketPts_ = -1;
      maxPacketPts_ = -1;
      std::lock_guard<std::mutex> lock(mu_);
      counters_.loops++;
      passDecoded = counters_.decoded;
      passPackets = counters_.videoPackets;
      continue;
    }
    if (ret < 0) {
      fatal = input.ErrorFor("read failed", ret);
      break;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      counters_.packets++;
      counters_.bytes += pkt->size;
      counters_.lastPacketWallMs = NowMs();
    }
    if (pkt->stream_index != input.videoIndex()) {
      av_packet_unref(pkt);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      counters_.videoPackets++;
      if (pkt->flags & AV_PKT_FLAG_KEY) counters_.keyframes++;
    }
    if (pkt->pts != AV_NOPTS_VALUE) {
      const double p = pkt->pts * tb;
      if (firstPacketPts_ < 0 || p < firstPacketPts_) firstPacketPts_ = p;
      if (p > maxPacketPts_) maxPacketPts_ = p;
    }
    if (opts_.realtime) {
      int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
      if (ts != AV_NOPTS_VALUE) Pace(ts * tb + loopOffset_);
    }
    // Recording first, from the packet as it arrived: it does not depend on decoding succeeding.
    if (recorder) recorder->Write(pkt, stream, static_cast<int64_t>(std::llround(loopOffset_ / tb)));
    if (!opts_.decode) {
      av_packet_unref(pkt);
      continue;
    }
    // An idle camera decodes keyframes only (the recorder above still got every packet). The mode changes only at
    // a keyframe, so that a group of pictures is either decoded whole or not at all past its keyframe.
    const bool key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    if (key && keyframesOnly != keyframesOnlyWanted_.load()) {
      keyframesOnly = !keyframesOnly;
      std::lock_guard<std::mutex> lock(mu_);
      counters_.keyframesOnly = keyframesOnly;
    }
    if (keyframesOnly && !key) {
      av_packet_unref(pkt);
      std::lock_guard<std::mutex> lock(mu_);
      counters_.skippedPackets++;
      continue;
    }
    ret = decoder.Send(pkt);
    av_packet_unref(pkt);
    if (ret < 0 && ret != AVERROR(EAGAIN)) {
      // A damaged packet is counted and skipped: a live camera must survive a corrupt frame.
      std::lock_guard<std::mutex> lock(mu_);
      counters_.decodeErrors++;
      continue;
    }
    ret = drain();
    if (keyframesOnly) {
      // A frame-threaded decoder holds a frame back until more packets follow; with none following for a whole
      // group of pictures, drain it now (the keyframe is seen at once) and reset the decoder for the next one.
      decoder.Send(nullptr);
      ret = drain();
      decoder.Flush();
    }
    if (ret < 0 && ret != AVERROR(EAGAIN) && ret != AVERROR_EOF) {
      std::lock_guard<std::mutex> lock(mu_);
      counters_.decodeErrors++;
    }
  }
  av_packet_free(&pkt);
  av_frame_free(&frame);
  std::lock_guard<std::mutex> lock(mu_);
  if (!fatal.ok() && !closing_) endError_ = fatal;
}

void Source::Pace(double t) {
  double now = MonoSeconds();
  if (paceWall_ < 0 || t < pacePts_ || (t - pacePts_) - (now - paceWall_) > 5 || (now - paceWall_) - (t - pacePts_) > 1) {
    // (Re)anchor at the start, on a timestamp jump, or after falling far behind.
    paceWall_ = now;
    pacePts_ = t;
    return;
  }
  double wait = (t - pacePts_) - (now - paceWall_);
  if (wait <= 0) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::duration<double>(wait), [this] { return closing_.load(); });
}

void Source::HandleFrame(Decoder& decoder, const AVFrame* frame, const AVStream* stream) {
  const double tb = av_q2d(stream->time_base);
  double pts;
  if (frame->best_effort_timestamp != AV_NOPTS_VALUE) pts = frame->best_effort_timestamp * tb;
  else pts = lastFramePts_ >= 0 ? lastFramePts_ - loopOffset_ + (info_.fps > 0 ? 1.0 / info_.fps : 0.04) : 0;
  pts += loopOffset_;
  lastFramePts_ = pts;
  const bool key = IsKeyframe(frame);
  {
    std::lock_guard<std::mutex> lock(mu_);
    counters_.decoded++;
    counters_.lastPts = pts;
  }

  // Sample by presentation time so the rate holds whatever the source frame rate is.
  if (opts_.sampleFps > 0) {
    const double interval = 1.0 / opts_.sampleFps;
    const bool jumpedBack = nextSample_ >= 0 && pts + interval * 4 < nextSample_;
    if (nextSample_ >= 0 && pts + 1e-3 < nextSample_ && !jumpedBack) return;
    nextSample_ = (nextSample_ < 0 || jumpedBack || pts > nextSample_ + interval) ? pts + interval : nextSample_ + interval;
  }

  int err = 0;
  const AVFrame* sw = decoder.ToSoftware(frame, scratch_, &err);
  AVFrame* ref = sw ? av_frame_clone(sw) : nullptr;
  std::unique_lock<std::mutex> lock(mu_);
  if (!ref) {
    counters_.decodeErrors++;
    return;
  }
  Pending p{counters_.sampled++, pts, NowMs(), key, ref};
  if (opts_.dropWhenBusy) {
    // Never stall demux: a frame still waiting for conversion is replaced by the newer one.
    while (!convertQueue_.empty()) {
      av_frame_free(&convertQueue_.front().frame);
      convertQueue_.pop_front();
      counters_.dropped++;
    }
  } else {
    cv_.wait(lock, [this] { return convertQueue_.size() < 4 || closing_.load(); });
    if (closing_) {
      av_frame_free(&p.frame);
      return;
    }
  }
  convertQueue_.push_back(p);
  lock.unlock();
  cv_.notify_all();
}
}  // namespace guardian
