// AES-256-GCM over many segments of one archive object per call (docs/archive-format.md, "Segments"). node:crypto
// makes a new cipher context for every 64 KiB segment, and its key schedule and GHASH setup (about 7 us) cost a
// third of what decrypting the segment does; here one context per direction is keyed once per object key and each
// segment only sets its nonce. The OpenSSL is Node's own (bundled, its symbols exported to addons): nothing links
// another libcrypto, so this is the same implementation node:crypto runs.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

struct evp_cipher_ctx_st;  // EVP_CIPHER_CTX, kept out of this header so that only gcm.cc sees OpenSSL's

namespace guardian {

// new GcmSegments(key: 32 bytes, noncePrefix: 7 bytes, aad, segmentSize). The key is copied into the contexts'
// key schedules and nowhere else: the caller wipes its buffer right after. Segment i of a call starting at
// firstIndex has the nonce prefix || uint32be(firstIndex + i) || last, last = 1 only for the call's final segment
// when lastIsFinal.
//   seal(plain, firstIndex, lastIsFinal, out) -> bytes written: ciphertext || tag per segment, end to end. Every
//     segment but a final one holds segmentSize bytes; an empty plain is one empty final segment.
//   open(stored, firstIndex, lastIsFinal, out) -> -1 when every segment authenticated (its plaintext in out, end to
//     end), else the position in this call of the first that did not: its bytes in out are zeroed, nothing after
//     it is written, and segments before it are authentic.
//   dispose(): frees the contexts (their key schedules are wiped) at once rather than at garbage collection.
class GcmSegments : public Napi::ObjectWrap<GcmSegments> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit GcmSegments(const Napi::CallbackInfo& info);
  ~GcmSegments() override;

 private:
  Napi::Value Seal(const Napi::CallbackInfo& info);
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  void Free();
  const uint8_t* NonceOf(uint32_t index, bool last);

  evp_cipher_ctx_st* enc_ = nullptr;
  evp_cipher_ctx_st* dec_ = nullptr;
  uint8_t nonce_[12] = {};
  std::vector<uint8_t> aad_;
  size_t segment_ = 0;
};

// gcmInfo() -> { openssl: version text, library: the file that defines the EVP functions this addon calls, node:
// whether that is Node's own executable, as it must be }.
Napi::Value GcmInfo(const Napi::CallbackInfo& info);

}  // namespace guardian
