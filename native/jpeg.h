// JPEG snapshots of decoded frames through libavcodec's MJPEG encoder.
#pragma once
#include <cstdint>
#include <vector>

#include "errors.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace guardian {

// width <= 0 keeps the frame's size; otherwise the height follows the aspect ratio. quality 1-100.
MediaError EncodeJpeg(const AVFrame* frame, int width, int quality, std::vector<uint8_t>* out);

}  // namespace guardian
