#include "clip_export.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>

#include "errors.h"
#include "js_error.h"
#include "js_fields.h"

extern "C" {
#include <libavformat/avformat.h>
}

namespace guardian {

namespace {
int64_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}
}  // namespace

std::string ExportClip(const std::vector<std::string>& inputs, double start, double end, const std::string& output,
                       ClipResult* result) {
  AVFormatContext* out = nullptr;
  int ret = avformat_alloc_output_context2(&out, nullptr, "mp4", output.c_str());
  if (ret < 0 || !out) return "cannot create muxer: " + DescribeAvError(ret);
  std::string error;
  bool headerWritten = false;
  double offset = 0;  // seconds of input consumed before the current segment
  int64_t firstOut = AV_NOPTS_VALUE;
  int64_t lastOutDts = AV_NOPTS_VALUE, lastOutPts = 0, lastDuration = 0;
  AVRational outTb{1, 90000};
  AVPacket* pkt = av_packet_alloc();
  for (size_t i = 0; i < inputs.size() && error.empty(); i++) {
    AVFormatContext* in = nullptr;
    if ((ret = avformat_open_input(&in, inputs[i].c_str(), nullptr, nullptr)) < 0) {
      error = inputs[i] + ": " + DescribeAvError(ret);
      break;
    }
    avformat_find_stream_info(in, nullptr);
    int vi = av_find_best_stream(in, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (vi < 0) {
      avformat_close_input(&in);
      error = inputs[i] + ": no video stream";
      break;
    }
    AVStream* ist = in->streams[vi];
    const double segDuration = in->duration > 0 ? in->duration / static_cast<double>(AV_TIME_BASE) : 0;
    if (!headerWritten) {
      AVStream* ost = avformat_new_stream(out, nullptr);
      avcodec_parameters_copy(ost->codecpar, ist->codecpar);
      ost->codecpar->codec_tag = 0;
      ost->time_base = ist->time_base;
      if ((ret = avio_open(&out->pb, output.c_str(), AVIO_FLAG_WRITE)) < 0) {
        avformat_close_input(&in);
        error = "cannot create " + output + ": " + DescribeAvError(ret);
        break;
      }
      AVDictionary* o = nullptr;
      av_dict_set(&o, "movflags", "+faststart", 0);  // index first: plays and seeks at once in a browser
      ret = avformat_write_header(out, &o);
      av_dict_free(&o);
      if (ret < 0) {
        avformat_close_input(&in);
        error = "cannot write header: " + DescribeAvError(ret);
        break;
      }
      headerWritten = true;
      outTb = out->streams[0]->time_base;
      // Start on the keyframe at or before the requested start.
      double local = start - offset;
      if (local > 0) av_seek_frame(in, vi, static_cast<int64_t>(local / av_q2d(ist->time_base)), AVSEEK_FLAG_BACKWARD);
    }
    int64_t segStartOut = static_cast<int64_t>(offset / av_q2d(outTb));
    while ((ret = av_read_frame(in, pkt)) >= 0) {
      if (pkt->stream_index != vi) {
        av_packet_unref(pkt);
        continue;
      }
      double t = offset + (pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts) * av_q2d(ist->time_base);
      if (t > end) {
        av_packet_unref(pkt);
        break;
      }
      av_packet_rescale_ts(pkt, ist->time_base, outTb);
      pkt->dts += segStartOut;
      pkt->pts += segStartOut;
      if (firstOut == AV_NOPTS_VALUE) {
        result->startsOnKeyframe = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
        if (!result->startsOnKeyframe) {  // cannot start mid-GOP
          av_packet_unref(pkt);
          continue;
        }
        firstOut = pkt->dts;
        result->startSeconds = t;
      }
      pkt->dts -= firstOut;
      pkt->pts -= firstOut;
      if (lastOutDts != AV_NOPTS_VALUE && pkt->dts <= lastOutDts) pkt->dts = lastOutDts + 1;
      if (pkt->pts < pkt->dts) pkt->pts = pkt->dts;
      lastOutDts = pkt->dts;
      lastOutPts = std::max(lastOutPts, pkt->pts);
      lastDuration = pkt->duration;
      pkt->stream_index = 0;
      pkt->pos = -1;
      if ((ret = av_write_frame(out, pkt)) < 0) {
        error = "cannot write " + output + ": " + DescribeAvError(ret);
        av_packet_unref(pkt);
        break;
      }
      result->frames++;
      av_packet_unref(pkt);
    }
    offset += segDuration;
    avformat_close_input(&in);
    if (offset >= end) break;
  }
  av_packet_free(&pkt);
  if (headerWritten && error.empty() && (ret = av_write_trailer(out)) < 0) error = "cannot finish " + output;
  if (out->pb) avio_closep(&out->pb);
  if (lastOutDts != AV_NOPTS_VALUE) result->durationSeconds = (lastOutPts + lastDuration) * av_q2d(outTb);
  avformat_free_context(out);
  if (error.empty() && result->frames == 0) error = "no frames in the requested interval";
  if (!error.empty()) std::remove(output.c_str());
  else result->bytes = FileSize(output);
  return error;
}

namespace {
class ClipWorker : public Napi::AsyncWorker {
 public:
  ClipWorker(Napi::Env env, std::vector<std::string> inputs, double start, double end, std::string output)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), inputs_(std::move(inputs)),
        start_(start), end_(end), output_(std::move(output)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { error_ = ExportClip(inputs_, start_, end_, output_, &result_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (!error_.empty()) return deferred_.Reject(JsError(env, MakeError("CLIP_FAILED", error_)).Value());
    Napi::Object o = Napi::Object::New(env);
    o.Set("durationSeconds", result_.durationSeconds);
    o.Set("startSeconds", result_.startSeconds);
    o.Set("bytes", static_cast<double>(result_.bytes));
    o.Set("frames", static_cast<double>(result_.frames));
    o.Set("startsOnKeyframe", result_.startsOnKeyframe);
    deferred_.Resolve(o);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<std::string> inputs_;
  double start_, end_;
  std::string output_, error_;
  ClipResult result_;
};
}  // namespace

Napi::Value ExportClipJs(const Napi::CallbackInfo& info) {
  Fields f(info[0], "exportClip options");  // validated by bindings/index.ts
  Napi::Array arr = f.Array("inputs");
  std::vector<std::string> inputs;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsString()) f.Fail("inputs", "an array of strings");
    inputs.push_back(v.As<Napi::String>().Utf8Value());
  }
  const double start = f.Number("start"), end = f.Number("end");
  std::string output = f.String("output");
  auto* w = new ClipWorker(info.Env(), std::move(inputs), start, end, std::move(output));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace guardian
