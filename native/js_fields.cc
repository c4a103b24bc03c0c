#include "js_fields.h"

#include "js_error.h"

namespace guardian {

namespace {
[[noreturn]] void Throw(Napi::Env env, const std::string& message) {
  throw JsError(env, {"INVALID_ARGUMENT", message + " (bindings/ validates and completes every argument)"});
}
bool IsString(const Napi::Value& v) { return v.IsString(); }
bool IsNumber(const Napi::Value& v) { return v.IsNumber(); }
bool IsBool(const Napi::Value& v) { return v.IsBoolean(); }
bool IsArray(const Napi::Value& v) { return v.IsArray(); }
bool IsFunction(const Napi::Value& v) { return v.IsFunction(); }
bool IsObject(const Napi::Value& v) { return v.IsObject() && !v.IsArray() && !v.IsFunction(); }
}  // namespace

Fields::Fields(Napi::Value value, std::string what, std::string prefix)
    : env_(value.Env()), what_(std::move(what)), prefix_(std::move(prefix)) {
  if (!IsObject(value)) Throw(env_, what_ + ": expected an object");
  obj_ = value.As<Napi::Object>();
}

void Fields::Fail(const char* key, const char* expected) const {
  Throw(env_, what_ + ": missing or invalid field " + prefix_ + key + " (expected " + expected + ")");
}

Napi::Value Fields::Get(const char* key, bool ok(const Napi::Value&), const char* expected) const {
  Napi::Value v = obj_.Get(key);
  if (!ok(v)) Fail(key, expected);
  return v;
}

bool Fields::Has(const char* key) const { return !obj_.Get(key).IsUndefined(); }

std::string Fields::String(const char* key) const {
  return Get(key, IsString, "a string").As<Napi::String>().Utf8Value();
}

double Fields::Number(const char* key) const {
  return Get(key, IsNumber, "a number").As<Napi::Number>().DoubleValue();
}

bool Fields::Bool(const char* key) const { return Get(key, IsBool, "a boolean").As<Napi::Boolean>().Value(); }

Napi::Array Fields::Array(const char* key) const { return Get(key, IsArray, "an array").As<Napi::Array>(); }

Napi::Function Fields::Function(const char* key) const {
  return Get(key, IsFunction, "a function").As<Napi::Function>();
}

Fields Fields::Object(const char* key) const {
  return Fields(Get(key, IsObject, "an object"), what_, prefix_ + key + ".");
}

void Fields::Triple(const char* key, float out[3]) const {
  Napi::Array a = Get(key, IsArray, "an array of 3 numbers").As<Napi::Array>();
  if (a.Length() != 3) Fail(key, "an array of 3 numbers");
  for (uint32_t i = 0; i < 3; i++) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber()) Fail(key, "an array of 3 numbers");
    out[i] = v.As<Napi::Number>().FloatValue();
  }
}

double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) Throw(info.Env(), std::string("argument ") + name + ": expected a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsString()) Throw(info.Env(), std::string("argument ") + name + ": expected a string");
  return info[i].As<Napi::String>().Utf8Value();
}

}  // namespace guardian
