// Error codes shared by every native entry point. JS sees them as Error.code.
#pragma once
#include <string>

namespace guardian {

struct MediaError {
  std::string code;     // stable: NOT_FOUND, PERMISSION_DENIED, UNAUTHORIZED, ...
  std::string message;  // names the (redacted) source and the cause
  bool ok() const { return code.empty(); }
};

// Maps an FFmpeg error to a stable code. timedOut/closing come from the interrupt callback,
// because FFmpeg reports both as AVERROR_EXIT.
std::string CodeForAvError(int averr, bool timedOut, bool closing);
std::string DescribeAvError(int averr);
MediaError MakeError(const std::string& label, const std::string& what, int averr, bool timedOut = false,
                     bool closing = false);
MediaError MakeError(const std::string& code, const std::string& message);

// rtsp://user:pass@host/x -> rtsp://***@host/x (defence in depth: JS passes an already redacted label).
std::string RedactUrl(const std::string& url);

}  // namespace guardian
