#include "js_error.h"

namespace guardian {

namespace {
// Per-environment state of the addon (each worker thread loading the addon has its own).
struct AddonData {
  Napi::FunctionReference errorClass;
};

AddonData* Data(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!data) {
    data = new AddonData();
    env.SetInstanceData(data);  // deleted with the environment
  }
  return data;
}
}  // namespace

Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "setErrorClass expects the GuardianError class");
  Data(env)->errorClass = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

Napi::Error JsError(Napi::Env env, const MediaError& e) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (data && !data->errorClass.IsEmpty()) {
    try {
      Napi::Object err = data->errorClass.New({Napi::String::New(env, e.code), Napi::String::New(env, e.message)});
      return Napi::Error(env, err);
    } catch (const Napi::Error&) {
      // JS cannot run any more (the environment is being torn down): a plain Error still carries the code.
    }
  }
  Napi::Error err = Napi::Error::New(env, e.message);
  err.Set("code", Napi::String::New(env, e.code));
  return err;
}

}  // namespace guardian
