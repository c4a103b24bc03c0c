// Reading the plain options objects that bindings/ builds. bindings/options.ts validates every value and fills in
// every default; the addon has no defaults of its own. A field that is missing or of the wrong type is therefore a
// bug on the JS side, reported at once as INVALID_ARGUMENT naming the field rather than guessed at.
#pragma once
#include <napi.h>

#include <string>

namespace guardian {

class Fields {
 public:
  // `what` names the object in messages (e.g. "NativeSource options"); `prefix` is prepended to field names.
  Fields(Napi::Value value, std::string what, std::string prefix = "");

  bool Has(const char* key) const;  // present and not undefined
  std::string String(const char* key) const;
  double Number(const char* key) const;
  bool Bool(const char* key) const;
  Napi::Array Array(const char* key) const;
  Napi::Function Function(const char* key) const;
  Fields Object(const char* key) const;
  void Triple(const char* key, float out[3]) const;  // an array of exactly 3 numbers

  [[noreturn]] void Fail(const char* key, const char* expected) const;
  const Napi::Object& object() const { return obj_; }

 private:
  Napi::Value Get(const char* key, bool ok(const Napi::Value&), const char* expected) const;
  Napi::Env env_;
  Napi::Object obj_;
  std::string what_, prefix_;
};

// Positional arguments of a native method, by index, with a name for messages.
double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name);
std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name);

}  // namespace guardian
