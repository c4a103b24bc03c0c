#include "source.h"

#include <set>

#include "js_error.h"
#include "source_js.h"

namespace guardian {

std::set<Source*>& LiveSources() {
  static std::set<Source*> sources;
  return sources;
}
std::mutex& LiveSourcesMutex() {
  static std::mutex mu;
  return mu;
}

// Environment teardown: a source the process forgot to close must not outlive it.
void Source::StopAll() {
  std::lock_guard<std::mutex> lock(LiveSourcesMutex());
  for (Source* s : LiveSources()) s->StopThread();
}

Napi::Function Source::Init(Napi::Env env) {
  return DefineClass(env, "NativeSource",
                     {InstanceMethod<&Source::Open>("open"), InstanceMethod<&Source::Read>("read"),
                      InstanceMethod<&Source::Snapshot>("snapshot"), InstanceMethod<&Source::CropTensor>("cropTensor"),
                      InstanceMethod<&Source::Stats>("stats"),
                      InstanceMethod<&Source::SetKeyframesOnly>("setKeyframesOnly"),
                      InstanceMethod<&Source::Close>("close")});
}

// Options arrive validated and complete from bindings/ (TypeScript); ParseSourceOptions only copies them.
Source::Source(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Source>(info) {
  Napi::Function onRecord;
  opts_ = ParseSourceOptions(info[0], &onRecord);
  if (!onRecord.IsEmpty()) onRecord_ = Napi::Persistent(onRecord);
  std::lock_guard<std::mutex> lock(LiveSourcesMutex());
  LiveSources().insert(this);
}

Source::~Source() {
  {
    std::lock_guard<std::mutex> lock(LiveSourcesMutex());
    LiveSources().erase(this);
  }
  StopThread();
  av_frame_free(&scratch_);
  for (auto& s : snapshots_) av_frame_free(&s.second);
}

void Source::StopThread() {
  closing_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Napi::Value Source::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (phase_ != Phase::Idle || closing_) {
    deferred.Reject(JsError(env, {"INVALID_STATE", opts_.input.label + ": open() may be called once"}).Value());
    return deferred.Promise();
  }
  openDeferred_ = std::make_unique<Napi::Promise::Deferred>(deferred);
  phase_ = Phase::Opening;
  tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                        "guardian-source", 0, 1, [this](Napi::Env fenv) {
                                          // All notifications have run and the thread has finished.
                                          tsfnAlive_ = false;
                                          if (thread_.joinable()) thread_.join();
                                          Settle(fenv);
                                          Unref();
                                        });
  tsfnAlive_ = true;
  Ref();  // keep this object alive while the thread runs
  scratch_ = av_frame_alloc();
  thread_ = std::thread([this] { Run(); });
  return deferred.Promise();
}

void Source::Notify() {
  if (notifyPending_.exchange(true)) return;  // one pending wake-up is enough
  tsfn_.NonBlockingCall([this](Napi::Env env, Napi::Function) {
    notifyPending_ = false;
    Settle(env);
  });
}

// Runs on the JS thread: resolves whatever promises the native state now allows.
void Source::Settle(Napi::Env env) {
  Napi::HandleScope scope(env);
  std::unique_ptr<Sample> sample;
  bool ended, exited, opening;
  MediaError openErr, endErr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ended = phase_ == Phase::Ended;
    opening = phase_ == Phase::Opening;
    if (closing_) queue_.clear();  // after close() nothing more is delivered
    exited = threadExited_;
    openErr = openError_;
    if (readDeferred_ && !queue_.empty()) {
      sample = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();  // room in the queue for a waiting decoder
    }
    if (readDeferred_ && !sample && ended && !endError_.ok() && !endErrorReported_) {
      endErr = endError_;
      endErrorReported_ = true;
    }
  }
  std::deque<RecorderEvent> events;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events.swap(recordEvents_);
  }
  if (!onRecord_.IsEmpty()) {
    for (const RecorderEvent& e : events) {
      try {
        onRecord_.Call({RecorderEventObject(env, e)});
      } catch (const Napi::Error&) {
        // A failing listener must not stop delivery of the other events.
      }
    }
  }
  if (openDeferred_ && !opening) {
    auto d = std::move(openDeferred_);
    if (!openErr.ok()) d->Reject(JsError(env, openErr).Value());
    else d->Resolve(InfoObject(env));
  }
  if (readDeferred_) {
    if (sample) {
      auto d = std::move(readDeferred_);
      d->Resolve(FrameObject(env, std::move(sample)));
    } else if (!endErr.ok()) {
      auto d = std::move(readDeferred_);
      d->Reject(JsError(env, endErr).Value());
    } else if (closing_ || (ended && exited)) {
      // Queue drained and the thread is gone: end of stream.
      bool empty;
      {
        std::lock_guard<std::mutex> lock(mu_);
        empty = queue_.empty();
      }
      if (empty) {
        auto d = std::move(readDeferred_);
        d->Resolve(env.Null());
      }
    }
  }
  if (exited && !closeDeferreds_.empty() && !tsfnAlive_) {
    for (auto& d : closeDeferreds_) d.Resolve(env.Undefined());
    closeDeferreds_.clear();
  }
  if (tsfnAlive_) {
    // Keep the event loop alive only while someone awaits this source.
    if (openDeferred_ || readDeferred_ || !closeDeferreds_.empty()) tsfn_.Ref(env);
    else tsfn_.Unref(env);
  }
}

Napi::Value Source::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (readDeferred_) {
    deferred.Reject(JsError(env, {"INVALID_STATE", opts_.input.label + ": a read() is already pending"}).Value());
    return deferred.Promise();
  }
  if (phase_ == Phase::Idle) {
    deferred.Reject(JsError(env, {"INVALID_STATE", opts_.input.label + ": read() before open()"}).Value());
    return deferred.Promise();
  }
  readDeferred_ = std::make_unique<Napi::Promise::Deferred>(deferred);
  Settle(env);
  return deferred.Promise();
}

Napi::Value Source::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  closing_ = true;
  cv_.notify_all();
  if (!tsfnAlive_) {
    // Never opened, or already finished.
    if (thread_.joinable()) thread_.join();
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  closeDeferreds_.push_back(deferred);
  tsfn_.Ref(env);
  return deferred.Promise();
}
}  // namespace guardian
