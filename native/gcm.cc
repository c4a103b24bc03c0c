#include "gcm.h"

#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cmath>
#include <cstring>
#include <string>

#include "js_error.h"
#include "js_fields.h"

namespace guardian {

namespace {
constexpr size_t kKey = 32;
constexpr size_t kPrefix = 7;
constexpr size_t kTag = 16;
constexpr double kMaxIndex = 4294967295.0;  // the nonce's counter is 32 bits

[[noreturn]] void Invalid(Napi::Env env, const std::string& message) {
  throw JsError(env, {"INVALID_ARGUMENT", "GcmSegments: " + message});
}

// OpenSSL failing for another reason than a tag (no memory, a provider refusing): nothing to do with the data.
[[noreturn]] void Internal(Napi::Env env, const char* what) {
  char detail[256] = "";
  ERR_error_string_n(ERR_get_error(), detail, sizeof(detail));
  ERR_clear_error();
  throw JsError(env, {"INTERNAL", std::string("AES-256-GCM: ") + what + " failed (" + detail + ")"});
}

struct Bytes {
  uint8_t* data;
  size_t size;
};

Bytes BytesArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    Invalid(info.Env(), std::string("expected a Buffer for ") + name);
  Napi::Uint8Array a = info[i].As<Napi::Uint8Array>();
  return {a.Data(), a.ElementLength()};
}

uint32_t IndexArg(const Napi::CallbackInfo& info, size_t i) {
  const double v = NumberArg(info, i, "firstIndex");
  if (!(v >= 0 && v <= kMaxIndex && std::floor(v) == v))
    Invalid(info.Env(), "firstIndex must be an integer from 0 to 2^32 - 1");
  return static_cast<uint32_t>(v);
}

// In-place or shifted overlap would have the cipher read bytes it has already overwritten.
bool Overlap(const Bytes& a, const Bytes& b) {
  return a.size && b.size && a.data < b.data + b.size && b.data < a.data + a.size;
}

evp_cipher_ctx_st* Keyed(Napi::Env env, const uint8_t* key, bool encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (!ctx) Internal(env, "EVP_CIPHER_CTX_new");
  // Keyed once here; each segment then passes only its nonce (the 12-byte default IV length of GCM).
  const int ok = encrypt ? EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, nullptr)
                         : EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, nullptr);
  if (ok != 1) {
    EVP_CIPHER_CTX_free(ctx);
    Internal(env, "keying the cipher");
  }
  return ctx;
}
}  // namespace

Napi::Function GcmSegments::Init(Napi::Env env) {
  return DefineClass(env, "GcmSegments",
                     {InstanceMethod<&GcmSegments::Seal>("seal"), InstanceMethod<&GcmSegments::Open>("open"),
                      InstanceMethod<&GcmSegments::Dispose>("dispose")});
}

GcmSegments::GcmSegments(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GcmSegments>(info) {
  Napi::Env env = info.Env();
  const Bytes key = BytesArg(info, 0, "key");
  const Bytes prefix = BytesArg(info, 1, "noncePrefix");
  const Bytes aad = BytesArg(info, 2, "aad");
  const double segment = NumberArg(info, 3, "segmentSize");
  if (key.size != kKey) Invalid(env, "the key must have 32 bytes");
  if (prefix.size != kPrefix) Invalid(env, "the nonce prefix must have 7 bytes");
  // Bounded so that every length handed to EVP_*Update fits its int.
  if (!(segment >= 1 && segment <= (1 << 24) && std::floor(segment) == segment))
    Invalid(env, "segmentSize must be an integer from 1 to 2^24");
  if (aad.size > (1 << 20)) Invalid(env, "the associated data must have at most 1 MiB");
  segment_ = static_cast<size_t>(segment);
  std::memcpy(nonce_, prefix.data, kPrefix);
  aad_.assign(aad.data, aad.data + aad.size);
  enc_ = Keyed(env, key.data, true);
  try {
    dec_ = Keyed(env, key.data, false);
  } catch (...) {
    Free();
    throw;
  }
}

GcmSegments::~GcmSegments() { Free(); }

// EVP_CIPHER_CTX_free wipes the key schedule (the provider clears its context before freeing it).
void GcmSegments::Free() {
  EVP_CIPHER_CTX_free(enc_);
  EVP_CIPHER_CTX_free(dec_);
  enc_ = dec_ = nullptr;
}

Napi::Value GcmSegments::Dispose(const Napi::CallbackInfo& info) {
  Free();
  return info.Env().Undefined();
}

const uint8_t* GcmSegments::NonceOf(uint32_t index, bool last) {
  nonce_[7] = static_cast<uint8_t>(index >> 24);
  nonce_[8] = static_cast<uint8_t>(index >> 16);
  nonce_[9] = static_cast<uint8_t>(index >> 8);
  nonce_[10] = static_cast<uint8_t>(index);
  nonce_[11] = last ? 1 : 0;
  return nonce_;
}

// seal(plain, firstIndex, lastIsFinal, out) -> bytes written
Napi::Value GcmSegments::Seal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!enc_) throw JsError(env, {"CLOSED", "GcmSegments: used after dispose()"});
  const Bytes plain = BytesArg(info, 0, "plain");
  const uint32_t first = IndexArg(info, 1);
  const bool lastIsFinal = info[2].ToBoolean();
  const Bytes out = BytesArg(info, 3, "out");
  // Only an object's last segment may be short or empty.
  if (!lastIsFinal && (plain.size == 0 || plain.size % segment_))
    Invalid(env, "a batch that does not end the object must hold whole segments");
  const size_t n = plain.size ? (plain.size + segment_ - 1) / segment_ : 1;
  if (first + static_cast<double>(n) - 1 > kMaxIndex) Invalid(env, "segment index past 2^32 - 1");
  const size_t need = plain.size + n * kTag;
  if (out.size < need) Invalid(env, "out is too small for the sealed segments");
  if (Overlap(plain, out)) Invalid(env, "out overlaps plain");
  const uint8_t* aad = aad_.data();
  const int aadLen = static_cast<int>(aad_.size());
  uint8_t* o = out.data;
  for (size_t i = 0; i < n; i++) {
    const size_t at = i * segment_;
    const size_t len = i + 1 < n ? segment_ : plain.size - at;
    const uint8_t* nonce = NonceOf(static_cast<uint32_t>(first + i), lastIsFinal && i + 1 == n);
    int l = 0;
    const bool ok = EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, nonce) == 1 &&
                    (aadLen == 0 || EVP_EncryptUpdate(enc_, nullptr, &l, aad, aadLen) == 1) &&
                    (len == 0 || EVP_EncryptUpdate(enc_, o, &l, plain.data + at, static_cast<int>(len)) == 1) &&
                    EVP_EncryptFinal_ex(enc_, o + len, &l) == 1 &&
                    EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_GCM_GET_TAG, kTag, o + len) == 1;
    if (!ok) Internal(env, "sealing a segment");
    o += len + kTag;
  }
  return Napi::Number::New(env, static_cast<double>(need));
}

// open(stored, firstIndex, lastIsFinal, out) -> -1, or the position of the first segment that failed
Napi::Value GcmSegments::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!dec_) throw JsError(env, {"CLOSED", "GcmSegments: used after dispose()"});
  const Bytes stored = BytesArg(info, 0, "stored");
  const uint32_t first = IndexArg(info, 1);
  const bool lastIsFinal = info[2].ToBoolean();
  const Bytes out = BytesArg(info, 3, "out");
  const size_t whole = segment_ + kTag;
  const size_t n = (stored.size + whole - 1) / whole;
  // Only the last stored segment of a call can be short, and even an empty one has its tag.
  if (n == 0 || stored.size - (n - 1) * whole < kTag) Invalid(env, "stored does not end with a whole tag");
  if (first + static_cast<double>(n) - 1 > kMaxIndex) Invalid(env, "segment index past 2^32 - 1");
  if (out.size < stored.size - n * kTag) Invalid(env, "out is too small for the plaintext");
  if (Overlap(stored, out)) Invalid(env, "out overlaps stored");
  const uint8_t* aad = aad_.data();
  const int aadLen = static_cast<int>(aad_.size());
  uint8_t* o = out.data;
  for (size_t i = 0; i < n; i++) {
    const uint8_t* in = stored.data + i * whole;
    const size_t len = (i + 1 < n ? whole : stored.size - i * whole) - kTag;
    const uint8_t* nonce = NonceOf(static_cast<uint32_t>(first + i), lastIsFinal && i + 1 == n);
    int l = 0;
    const bool ok = EVP_DecryptInit_ex(dec_, nullptr, nullptr, nullptr, nonce) == 1 &&
                    (aadLen == 0 || EVP_DecryptUpdate(dec_, nullptr, &l, aad, aadLen) == 1) &&
                    (len == 0 || EVP_DecryptUpdate(dec_, o, &l, in, static_cast<int>(len)) == 1) &&
                    EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_GCM_SET_TAG, kTag, const_cast<uint8_t*>(in + len)) == 1;
    if (!ok) Internal(env, "opening a segment");
    // The tag is compared by OpenSSL (CRYPTO_memcmp, constant time). GCM decrypts before it authenticates: a
    // segment that fails leaves no plaintext behind.
    if (EVP_DecryptFinal_ex(dec_, o + len, &l) != 1) {
      OPENSSL_cleanse(o, len);
      ERR_clear_error();
      return Napi::Number::New(env, static_cast<double>(i));
    }
    o += len;
  }
  return Napi::Number::New(env, -1);
}

Napi::Value GcmInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("openssl", OpenSSL_version(OPENSSL_VERSION));
  // The addresses as this addon resolved them: the objects whose definitions the dynamic linker bound. N-API
  // itself is always Node's.
  Dl_info evp{}, napi{};
  const bool found = dladdr(reinterpret_cast<void*>(&EVP_DecryptInit_ex), &evp) != 0 && evp.dli_fname;
  const bool node = dladdr(reinterpret_cast<void*>(&napi_create_buffer), &napi) != 0;
  out.Set("library", found ? Napi::Value(Napi::String::New(env, evp.dli_fname)) : env.Null());
  out.Set("node", found && node && evp.dli_fbase == napi.dli_fbase);
  return out;
}

}  // namespace guardian
