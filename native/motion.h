// Motion detection on the grey plane, after Frigate's improved motion detector: contrast stretch between
// running percentiles, blur, running-average background, threshold, dilation, connected regions above a minimum
// area; a change over most of the frame (lights, IR switch) recalibrates instead of reporting motion.
#pragma once
#include <napi.h>

#include <cstdint>
#include <vector>

namespace guardian {

// Set from bindings/, which validates the options and owns their defaults (bindings/options.ts).
struct MotionOptions {
  int threshold = 0;                 // grey levels of difference that count as change
  double minArea = 0;                // smallest region, as a fraction of the frame
  double alpha = 0;                  // background learning rate per frame
  double recalibrateFraction = 0;    // changed fraction above which the scene is re-learnt
  int dilate = 0;                    // 3x3 dilation passes
  std::vector<std::vector<double>> mask;  // polygons (x0,y0,x1,y1,... in 0-1 frame coordinates) to ignore
};

struct MotionBox {
  int x1, y1, x2, y2, area;
};

class MotionCore {
 public:
  explicit MotionCore(MotionOptions o) : opts_(std::move(o)) {}
  // Returns regions in plane pixels; fraction = changed pixels / unmasked pixels.
  std::vector<MotionBox> Detect(const uint8_t* plane, int w, int h, double* fraction, bool* calibrating);
  void SetOptions(MotionOptions o);

 private:
  void Reset(int w, int h);
  MotionOptions opts_;
  int w_ = 0, h_ = 0;
  std::vector<float> background_;
  std::vector<uint8_t> mask_, work_, binary_, scratch_;
  std::vector<int> labels_;
  double lo_ = -1, hi_ = -1;  // running contrast limits
};

class MotionDetector : public Napi::ObjectWrap<MotionDetector> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit MotionDetector(const Napi::CallbackInfo& info);

 private:
  Napi::Value Detect(const Napi::CallbackInfo& info);
  Napi::Value Configure(const Napi::CallbackInfo& info);
  MotionCore core_{MotionOptions{}};
};

}  // namespace guardian
