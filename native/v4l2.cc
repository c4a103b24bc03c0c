#include "v4l2.h"

#include <string>
#include <vector>

#include "errors.h"
#include "js_error.h"
#include "js_fields.h"

#ifdef __linux__
#include <fcntl.h>
#include <linux/videodev2.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#endif

namespace guardian {

namespace {

struct Format {
  std::string fourcc, description;
  std::vector<std::string> sizes;
};

struct DeviceInfo {
  std::string driver, card, busInfo;
  bool capture = false, streaming = false;
  std::vector<Format> formats;
};

#ifdef __linux__
int Ioctl(int fd, unsigned long req, void* arg) {
  int r;
  do r = ioctl(fd, req, arg);
  while (r < 0 && errno == EINTR);
  return r;
}

MediaError Query(const std::string& path, DeviceInfo* out) {
  int fd = open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string code = e == ENOENT ? "NOT_FOUND" : (e == EACCES || e == EPERM) ? "PERMISSION_DENIED" : "IO_ERROR";
    return MakeError(code, path + ": cannot open: " + std::strerror(e));
  }
  v4l2_capability cap{};
  if (Ioctl(fd, VIDIOC_QUERYCAP, &cap) < 0) {
    int e = errno;
    close(fd);
    return MakeError("UNSUPPORTED_INPUT", path + ": not a V4L2 device: " + std::strerror(e));
  }
  out->driver = reinterpret_cast<const char*>(cap.driver);
  out->card = reinterpret_cast<const char*>(cap.card);
  out->busInfo = reinterpret_cast<const char*>(cap.bus_info);
  uint32_t caps = (cap.capabilities & V4L2_CAP_DEVICE_CAPS) ? cap.device_caps : cap.capabilities;
  out->capture = (caps & (V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_VIDEO_CAPTURE_MPLANE)) != 0;
  out->streaming = (caps & V4L2_CAP_STREAMING) != 0;
  if (out->capture) {
    for (uint32_t i = 0;; i++) {
      v4l2_fmtdesc fmt{};
      fmt.index = i;
      fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
      if (Ioctl(fd, VIDIOC_ENUM_FMT, &fmt) < 0) break;
      Format f;
      char cc[5] = {static_cast<char>(fmt.pixelformat & 0xff), static_cast<char>((fmt.pixelformat >> 8) & 0xff),
                    static_cast<char>((fmt.pixelformat >> 16) & 0xff), static_cast<char>((fmt.pixelformat >> 24) & 0xff),
                    0};
      f.fourcc = cc;
      f.description = reinterpret_cast<const char*>(fmt.description);
      for (uint32_t j = 0; j < 64; j++) {
        v4l2_frmsizeenum size{};
        size.index = j;
        size.pixel_format = fmt.pixelformat;
        if (Ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &size) < 0) break;
        if (size.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
          f.sizes.push_back(std::to_string(size.discrete.width) + "x" + std::to_string(size.discrete.height));
        } else {
          f.sizes.push_back(std::to_string(size.stepwise.max_width) + "x" + std::to_string(size.stepwise.max_height));
          break;
        }
      }
      out->formats.push_back(std::move(f));
    }
  }
  close(fd);
  return {};
}
#else
MediaError Query(const std::string& path, DeviceInfo*) {
  return MakeError("UNSUPPORTED_INPUT", path + ": V4L2 exists only on Linux");
}
#endif

class QueryWorker : public Napi::AsyncWorker {
 public:
  QueryWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { err_ = Query(path_, &info_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (!err_.ok()) return deferred_.Reject(JsError(env, err_).Value());
    Napi::Object o = Napi::Object::New(env);
    o.Set("driver", info_.driver);
    o.Set("card", info_.card);
    o.Set("busInfo", info_.busInfo);
    o.Set("capture", info_.capture);
    o.Set("streaming", info_.streaming);
    Napi::Array formats = Napi::Array::New(env, info_.formats.size());
    for (uint32_t i = 0; i < info_.formats.size(); i++) {
      Napi::Object f = Napi::Object::New(env);
      f.Set("fourcc", info_.formats[i].fourcc);
      f.Set("description", info_.formats[i].description);
      Napi::Array sizes = Napi::Array::New(env, info_.formats[i].sizes.size());
      for (uint32_t j = 0; j < info_.formats[i].sizes.size(); j++) sizes.Set(j, info_.formats[i].sizes[j]);
      f.Set("sizes", sizes);
      formats.Set(i, f);
    }
    o.Set("formats", formats);
    deferred_.Resolve(o);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  MediaError err_;
  DeviceInfo info_;
};

}  // namespace

Napi::Value V4l2Query(const Napi::CallbackInfo& info) {
  auto* worker = new QueryWorker(info.Env(), StringArg(info, 0, "path"));
  Napi::Promise p = worker->Promise();
  worker->Queue();
  return p;
}

}  // namespace guardian
