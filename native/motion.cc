#include "motion.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "js_error.h"
#include "js_fields.h"

namespace guardian {

namespace {
bool InsidePolygon(const std::vector<double>& poly, double x, double y) {
  bool inside = false;
  const size_t n = poly.size() / 2;
  for (size_t i = 0, j = n - 1; i < n; j = i++) {
    double xi = poly[2 * i], yi = poly[2 * i + 1], xj = poly[2 * j], yj = poly[2 * j + 1];
    if (((yi > y) != (yj > y)) && (x < (xj - xi) * (y - yi) / (yj - yi + 1e-12) + xi)) inside = !inside;
  }
  return inside;
}

// Every field is required: bindings/index.ts validates the options and fills in the defaults.
MotionOptions ParseOptions(const Napi::Value& value) {
  Fields f(value, "MotionDetector options");
  MotionOptions o;
  o.threshold = static_cast<int>(f.Number("threshold"));
  o.minArea = f.Number("minArea");
  o.alpha = f.Number("alpha");
  o.recalibrateFraction = f.Number("recalibrateFraction");
  o.dilate = static_cast<int>(f.Number("dilate"));
  Napi::Array polys = f.Array("mask");
  auto isPoint = [](const Napi::Value& p) {
    return p.IsArray() && p.As<Napi::Array>().Length() == 2 && p.As<Napi::Array>().Get(0u).IsNumber() &&
           p.As<Napi::Array>().Get(1u).IsNumber();
  };
  for (uint32_t i = 0; i < polys.Length(); i++) {
    Napi::Value pv = polys.Get(i);
    if (!pv.IsArray()) f.Fail("mask", "an array of polygons of [x, y] points");
    Napi::Array pts = pv.As<Napi::Array>();
    std::vector<double> poly;
    for (uint32_t j = 0; j < pts.Length(); j++) {
      Napi::Value p = pts.Get(j);
      if (!isPoint(p)) f.Fail("mask", "an array of polygons of [x, y] points");
      poly.push_back(p.As<Napi::Array>().Get(0u).As<Napi::Number>().DoubleValue());
      poly.push_back(p.As<Napi::Array>().Get(1u).As<Napi::Number>().DoubleValue());
    }
    if (poly.size() >= 6) o.mask.push_back(std::move(poly));
  }
  return o;
}
}  // namespace

void MotionCore::SetOptions(MotionOptions o) {
  opts_ = std::move(o);
  w_ = h_ = 0;  // re-rasterise the mask and re-learn the background
}

void MotionCore::Reset(int w, int h) {
  w_ = w;
  h_ = h;
  const size_t n = static_cast<size_t>(w) * h;
  background_.assign(n, -1.f);
  mask_.assign(n, 1);
  work_.assign(n, 0);
  binary_.assign(n, 0);
  scratch_.assign(n, 0);
  labels_.assign(n, 0);
  lo_ = hi_ = -1;
  for (const auto& poly : opts_.mask)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        if (InsidePolygon(poly, (x + 0.5) / w, (y + 0.5) / h)) mask_[static_cast<size_t>(y) * w + x] = 0;
}

std::vector<MotionBox> MotionCore::Detect(const uint8_t* plane, int w, int h, double* fraction, bool* calibrating) {
  if (w != w_ || h != h_) Reset(w, h);
  const size_t n = static_cast<size_t>(w) * h;
  *calibrating = false;

  // Contrast: stretch between the 4th and 96th percentiles, smoothed over recent frames.
  int hist[256] = {0};
  size_t counted = 0;
  for (size_t i = 0; i < n; i++)
    if (mask_[i]) {
      hist[plane[i]]++;
      counted++;
    }
  int p4 = 0, p96 = 255;
  size_t acc = 0;
  bool lowSet = false;
  for (int v = 0; v < 256; v++) {
    acc += hist[v];
    if (!lowSet && acc >= counted * 4 / 100) {
      p4 = v;
      lowSet = true;
    }
    if (acc >= counted * 96 / 100) {
      p96 = v;
      break;
    }
  }
  if (lo_ < 0) {
    lo_ = p4;
    hi_ = p96;
  } else {
    lo_ = 0.9 * lo_ + 0.1 * p4;
    hi_ = 0.9 * hi_ + 0.1 * p96;
  }
  const double range = std::max(16.0, hi_ - lo_);
  const double k = 255.0 / range;
  for (size_t i = 0; i < n; i++) {
    double v = (plane[i] - lo_) * k;
    scratch_[i] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
  }
  // 3x3 box blur against sensor noise.
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      int sum = 0, cnt = 0;
      for (int dy = -1; dy <= 1; dy++) {
        int yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (int dx = -1; dx <= 1; dx++) {
          int xx = x + dx;
          if (xx < 0 || xx >= w) continue;
          sum += scratch_[static_cast<size_t>(yy) * w + xx];
          cnt++;
        }
      }
      work_[static_cast<size_t>(y) * w + x] = static_cast<uint8_t>(sum / cnt);
    }
  }

  // Difference against the running-average background.
  size_t changed = 0, unmasked = 0;
  const bool first = background_[0] < 0;
  for (size_t i = 0; i < n; i++) {
    if (first) background_[i] = work_[i];
    bool on = mask_[i] && std::fabs(work_[i] - background_[i]) > opts_.threshold;
    binary_[i] = on ? 1 : 0;
    if (mask_[i]) unmasked++;
    if (on) changed++;
  }
  *fraction = unmasked ? static_cast<double>(changed) / unmasked : 0;

  if (*fraction > opts_.recalibrateFraction) {
    // Global change (lights, IR switch, camera moved): learn the new scene instead of reporting motion.
    for (size_t i = 0; i < n; i++) background_[i] = work_[i];
    *calibrating = true;
    return {};
  }
  const float a = static_cast<float>(opts_.alpha);
  for (size_t i = 0; i < n; i++) background_[i] = (1 - a) * background_[i] + a * work_[i];
  if (changed == 0) return {};

  // Dilation joins the fragments of one moving object.
  for (int pass = 0; pass < opts_.dilate; pass++) {
    std::copy(binary_.begin(), binary_.end(), scratch_.begin());
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        size_t i = static_cast<size_t>(y) * w + x;
        if (scratch_[i]) continue;
        bool any = false;
        for (int dy = -1; dy <= 1 && !any; dy++) {
          int yy = y + dy;
          if (yy < 0 || yy >= h) continue;
          for (int dx = -1; dx <= 1; dx++) {
            int xx = x + dx;
            if (xx >= 0 && xx < w && scratch_[static_cast<size_t>(yy) * w + xx]) {
              any = true;
              break;
            }
          }
        }
        if (any) binary_[i] = 1;
      }
  }

  // Connected regions (8-connectivity) by flood fill with an explicit stack.
  std::fill(labels_.begin(), labels_.end(), 0);
  std::vector<MotionBox> boxes;
  std::vector<int> stack;
  const int minArea = std::max(1, static_cast<int>(opts_.minArea * n));
  int next = 1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      size_t i = static_cast<size_t>(y) * w + x;
      if (!binary_[i] || labels_[i]) continue;
      MotionBox b{x, y, x, y, 0};
      stack.assign(1, static_cast<int>(i));
      labels_[i] = next;
      while (!stack.empty()) {
        int p = stack.back();
        stack.pop_back();
        int px = p % w, py = p / w;
        b.area++;
        b.x1 = std::min(b.x1, px);
        b.y1 = std::min(b.y1, py);
        b.x2 = std::max(b.x2, px);
        b.y2 = std::max(b.y2, py);
        for (int dy = -1; dy <= 1; dy++)
          for (int dx = -1; dx <= 1; dx++) {
            int qx = px + dx, qy = py + dy;
            if (qx < 0 || qy < 0 || qx >= w || qy >= h) continue;
            size_t q = static_cast<size_t>(qy) * w + qx;
            if (binary_[q] && !labels_[q]) {
              labels_[q] = next;
              stack.push_back(static_cast<int>(q));
            }
          }
      }
      next++;
      if (b.area >= minArea) boxes.push_back(b);
    }
  return boxes;
}

Napi::Function MotionDetector::Init(Napi::Env env) {
  return DefineClass(env, "MotionDetector",
                     {InstanceMethod<&MotionDetector::Detect>("detect"),
                      InstanceMethod<&MotionDetector::Configure>("configure")});
}

MotionDetector::MotionDetector(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MotionDetector>(info) {
  core_.SetOptions(ParseOptions(info[0]));
}

Napi::Value MotionDetector::Configure(const Napi::CallbackInfo& info) {
  core_.SetOptions(ParseOptions(info[0]));
  return info.Env().Undefined();
}

// detect(plane: Uint8Array, width, height) -> { boxes: [x1, y1, x2, y2][] (0-1), fraction, calibrating }
Napi::Value MotionDetector::Detect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Checked again here (bindings/ checks first): a plane shorter than width x height would be read past its end.
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw JsError(env, {"INVALID_ARGUMENT", "motion plane: expected a Uint8Array"});
  Napi::Uint8Array plane = info[0].As<Napi::Uint8Array>();
  const int w = static_cast<int>(NumberArg(info, 1, "width"));
  const int h = static_cast<int>(NumberArg(info, 2, "height"));
  if (w <= 0 || h <= 0 || plane.ElementLength() < static_cast<size_t>(w) * h)
    throw JsError(env, {"INVALID_ARGUMENT", "motion plane is smaller than width x height"});
  double fraction = 0;
  bool calibrating = false;
  std::vector<MotionBox> boxes = core_.Detect(plane.Data(), w, h, &fraction, &calibrating);
  Napi::Array arr = Napi::Array::New(env, boxes.size());
  for (uint32_t i = 0; i < boxes.size(); i++) {
    Napi::Array b = Napi::Array::New(env, 4);
    b.Set(0u, static_cast<double>(boxes[i].x1) / w);
    b.Set(1u, static_cast<double>(boxes[i].y1) / h);
    b.Set(2u, static_cast<double>(boxes[i].x2 + 1) / w);
    b.Set(3u, static_cast<double>(boxes[i].y2 + 1) / h);
    arr.Set(i, b);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("boxes", arr);
  out.Set("fraction", fraction);
  out.Set("calibrating", calibrating);
  return out;
}

}  // namespace guardian
