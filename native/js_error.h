// Errors as JS sees them: instances of the GuardianError class that bindings/native.ts hands to the addon once,
// at load (setErrorClass), each with its stable code. Without that class (the addon loaded some other way) they are
// plain Errors with the same code and message.
#pragma once
#include <napi.h>

#include "errors.h"

namespace guardian {

// setErrorClass(cls): keeps a persistent reference to cls (per environment) for JsError.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info);

// new GuardianError(code, message) on the JS thread; throw it or reject a promise with its Value().
Napi::Error JsError(Napi::Env env, const MediaError& e);

}  // namespace guardian
