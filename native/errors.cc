#include "errors.h"

#include <cerrno>

extern "C" {
#include <libavutil/error.h>
}

namespace guardian {

std::string CodeForAvError(int averr, bool timedOut, bool closing) {
  if (closing) return "CLOSED";
  if (timedOut || averr == AVERROR(ETIMEDOUT)) return "TIMEOUT";
  switch (averr) {
    case AVERROR(ENOENT):
    case AVERROR(ENODEV):
    case AVERROR(ENXIO):
    case AVERROR_HTTP_NOT_FOUND:
      return "NOT_FOUND";
    case AVERROR(EACCES):
    case AVERROR(EPERM):
    case AVERROR_HTTP_FORBIDDEN:
      return "PERMISSION_DENIED";
    case AVERROR_HTTP_UNAUTHORIZED:
      return "UNAUTHORIZED";
    case AVERROR(ECONNREFUSED):
      return "CONNECTION_REFUSED";
    case AVERROR(EHOSTUNREACH):
    case AVERROR(ENETUNREACH):
    case AVERROR(ECONNRESET):
    case AVERROR(EPIPE):
    case AVERROR_HTTP_BAD_REQUEST:
    case AVERROR_HTTP_OTHER_4XX:
    case AVERROR_HTTP_SERVER_ERROR:
      return "PROTOCOL_ERROR";
    case AVERROR_INVALIDDATA:
      return "CORRUPT_DATA";
    case AVERROR_DECODER_NOT_FOUND:
    case AVERROR_PATCHWELCOME:
      return "UNSUPPORTED_CODEC";
    case AVERROR_PROTOCOL_NOT_FOUND:
    case AVERROR_DEMUXER_NOT_FOUND:
    case AVERROR_STREAM_NOT_FOUND:
      return "UNSUPPORTED_INPUT";
    case AVERROR(EIO):
      return "IO_ERROR";
    case AVERROR(ENOMEM):
      return "OUT_OF_MEMORY";
    default:
      return "MEDIA_ERROR";
  }
}

std::string DescribeAvError(int averr) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(averr, buf, sizeof(buf));
  return buf;
}

MediaError MakeError(const std::string& label, const std::string& what, int averr, bool timedOut, bool closing) {
  std::string code = CodeForAvError(averr, timedOut, closing);
  std::string cause;
  if (code == "CLOSED") cause = "source was closed";
  else if (code == "TIMEOUT") cause = "timed out";
  else cause = DescribeAvError(averr);
  return {code, RedactUrl(label) + ": " + what + ": " + cause};
}

MediaError MakeError(const std::string& code, const std::string& message) { return {code, RedactUrl(message)}; }

std::string RedactUrl(const std::string& text) {
  // Redact every "scheme://userinfo@" occurrence in the text.
  std::string out = text;
  size_t pos = 0;
  while ((pos = out.find("://", pos)) != std::string::npos) {
    size_t start = pos + 3;
    size_t end = out.find_first_of("/ ?#", start);
    if (end == std::string::npos) end = out.size();
    size_t at = out.rfind('@', end);
    if (at != std::string::npos && at >= start && at < end) {
      out.replace(start, at - start, "***");
      pos = start + 4;
    } else {
      pos = start;
    }
  }
  return out;
}

}  // namespace guardian
