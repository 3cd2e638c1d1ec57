// Every long native call runs on a worker thread and settles a Promise; C++ and LibTorch errors become JS Errors.
#pragma once
#include <napi.h>
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>

namespace paprec {

// The user-facing text of an exception: LibTorch's without its C++ backtrace.
inline std::string error_text(const std::exception& e) {
  if (auto c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

template <typename Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<Result()>;
  using Done = std::function<Napi::Value(Napi::Env, Result&)>;

  PromiseWorker(Napi::Env env, Work work, Done done)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
        done_(std::move(done)) {}

  Napi::Promise promise() const { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      result_ = std::make_unique<Result>(work_());
    } catch (const std::exception& e) {
      SetError(error_text(e));
    } catch (...) {
      SetError("unknown native error");
    }
  }
  void OnOK() override {
    try {
      deferred_.Resolve(done_(Env(), *result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const std::exception& e) {
      deferred_.Reject(Napi::Error::New(Env(), error_text(e)).Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  std::unique_ptr<Result> result_;
};

template <typename Result>
Napi::Promise run_async(Napi::Env env, std::function<Result()> work,
                        std::function<Napi::Value(Napi::Env, Result&)> done) {
  auto* worker = new PromiseWorker<Result>(env, std::move(work), std::move(done));
  auto promise = worker->promise();
  worker->Queue();
  return promise;
}

// Runs `body` synchronously, turning any C++ exception into a thrown JS Error.
template <typename F>
auto guard(Napi::Env env, F&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, error_text(e));
  }
}

}  // namespace paprec
