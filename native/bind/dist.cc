// torch.distributed for JS: `connectGroup(options) -> Promise<NativeProcessGroup>` and the group's collectives, each
// an async call that settles when this rank's part is done (a failure or a timeout rejects, naming the collective
// and the rank; it never aborts the process):
//   allReduce(typedArray) -> Promise<same type>      element-wise sum over ranks (Float32/Float64/Int32Array)
//   allGather(typedArray) -> Promise<same type>      [world * n]: every rank's n values, rank order; n must agree
//   broadcast(typedArray, root) -> Promise<same type>  root's values (Uint8Array too)
//   barrier() -> Promise<void>;  rollCall(graceMs) -> Promise<{storeReachable, answered: number[]}>
//   close() -> Promise<void>: later calls are refused; the group is freed after a running call ends.
#include "bind/dist.h"

#include <cstring>

#include "bind/async.h"
#include "bind/convert.h"
#include "bind/register.h"

namespace paprec {
namespace {

struct Buffer {
  torch::Tensor t;
  napi_typedarray_type type;
};

Buffer read_buffer(const Napi::Value& v, const char* what, bool bytes_ok) {
  if (!v.IsTypedArray()) throw std::invalid_argument(std::string(what) + ": expected a typed array");
  auto a = v.As<Napi::TypedArray>();
  torch::ScalarType st;
  switch (a.TypedArrayType()) {
    case napi_float32_array: st = torch::kFloat32; break;
    case napi_float64_array: st = torch::kFloat64; break;
    case napi_int32_array: st = torch::kInt32; break;
    case napi_uint8_array:
      if (!bytes_ok) throw std::invalid_argument(std::string(what) + ": a Uint8Array only for broadcast");
      st = torch::kUInt8;
      break;
    default: throw std::invalid_argument(std::string(what) + ": expected a Float32Array, Float64Array or Int32Array");
  }
  const int64_t n = static_cast<int64_t>(a.ElementLength());
  auto t = torch::empty({n}, st);
  std::memcpy(t.data_ptr(), static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset(), a.ByteLength());
  return {t, a.TypedArrayType()};
}

Napi::Value write_buffer(Napi::Env env, const Buffer& b) {
  auto c = b.t.contiguous();
  const size_t n = static_cast<size_t>(c.numel()), bytes = n * c.element_size();
  auto ab = Napi::ArrayBuffer::New(env, bytes);
  if (bytes) std::memcpy(ab.Data(), c.data_ptr(), bytes);
  napi_value out;
  NAPI_THROW_IF_FAILED(env, napi_create_typedarray(env, b.type, n, ab, 0, &out), Napi::Value());
  return Napi::Value(env, out);
}

class NativeProcessGroup : public Napi::ObjectWrap<NativeProcessGroup> {
 public:
  static Napi::Function Define(Napi::Env env) {
    auto fn = DefineClass(env, "NativeProcessGroup",
                          {InstanceMethod("rank", &NativeProcessGroup::Rank),
                           InstanceMethod("world", &NativeProcessGroup::World),
                           InstanceMethod("backend", &NativeProcessGroup::BackendName),
                           InstanceMethod("allReduce", &NativeProcessGroup::AllReduce),
                           InstanceMethod("allGather", &NativeProcessGroup::AllGather),
                           InstanceMethod("broadcast", &NativeProcessGroup::Broadcast),
                           InstanceMethod("barrier", &NativeProcessGroup::Barrier),
                           InstanceMethod("rollCall", &NativeProcessGroup::RollCallJs),
                           InstanceMethod("close", &NativeProcessGroup::Close)});
    constructor = new Napi::FunctionReference(Napi::Persistent(fn));
    return fn;
  }

  static Napi::Object Wrap(Napi::Env env, std::shared_ptr<DistGroup> g) {
    auto holder = new std::shared_ptr<DistGroup>(std::move(g));
    auto ext = Napi::External<std::shared_ptr<DistGroup>>::New(env, holder, [](Napi::Env, std::shared_ptr<DistGroup>* p) { delete p; });
    return constructor->New({ext});
  }

  explicit NativeProcessGroup(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeProcessGroup>(info) {
    if (info.Length() < 1 || !info[0].IsExternal())
      throw Napi::TypeError::New(info.Env(), "NativeProcessGroup: made by connectGroup(options), not by new");
    group_ = *info[0].As<Napi::External<std::shared_ptr<DistGroup>>>().Data();
  }

  std::shared_ptr<DistGroup> live(Napi::Env env) const {
    if (!group_) throw Napi::Error::New(env, "this process group has been closed");
    return group_;
  }

  static Napi::FunctionReference* constructor;

 private:
  Napi::Value Rank(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env())->rank()); }
  Napi::Value World(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), live(info.Env())->world()); }
  Napi::Value BackendName(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), live(info.Env())->options().backend);
  }

  template <typename F>
  Napi::Value on_buffer(const Napi::CallbackInfo& info, const char* what, bool bytes_ok, F collective) {
    auto env = info.Env();
    auto g = live(env);
    if (info.Length() < 1) throw Napi::TypeError::New(env, std::string(what) + "(typedArray)");
    auto in = guard(env, [&] { return read_buffer(info[0], what, bytes_ok); });
    return run_async<Buffer>(
        env, [g, in, collective] { return Buffer{collective(*g, in.t), in.type}; },
        [](Napi::Env env, Buffer& b) { return write_buffer(env, b); });
  }

  Napi::Value AllReduce(const Napi::CallbackInfo& info) {
    return on_buffer(info, "allReduce", false, [](DistGroup& g, torch::Tensor t) {
      std::vector<torch::Tensor> one{t};
      g.all_reduce_sum(one);
      return one[0];
    });
  }

  Napi::Value AllGather(const Napi::CallbackInfo& info) {
    return on_buffer(info, "allGather", false, [](DistGroup& g, torch::Tensor t) {
      // The lengths first: Gloo would fail (or worse) on unequal sizes; this names them, the same on every rank.
      auto n = g.all_gather(torch::full({1}, t.numel(), torch::kInt64)).reshape({-1});
      if ((n != n[0]).any().item<bool>()) {
        std::string lengths;
        for (int r = 0; r < g.world(); ++r)
          lengths += (r ? ", rank " : "rank ") + std::to_string(r) + ": " + std::to_string(n[r].item<int64_t>());
        throw std::invalid_argument("allGather: the ranks send different lengths (" + lengths +
                                    "); every rank must send the same number of values");
      }
      return g.all_gather(t).reshape({-1});
    });
  }

  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    if (info.Length() < 2 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "broadcast(typedArray, root)");
    const int root = info[1].As<Napi::Number>().Int32Value();
    if (root < 0 || root >= live(env)->world())
      throw Napi::RangeError::New(env, "broadcast: root " + std::to_string(root) + " is not a rank");
    return on_buffer(info, "broadcast", true, [root](DistGroup& g, torch::Tensor t) {
      g.broadcast(t, root);
      return t;
    });
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    auto g = live(info.Env());
    return run_async<int>(
        info.Env(), [g] { return g->barrier(), 0; }, [](Napi::Env env, int&) { return env.Undefined(); });
  }

  Napi::Value RollCallJs(const Napi::CallbackInfo& info) {
    auto env = info.Env();
    auto g = live(env);
    const int64_t grace = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int64Value() : 3000;
    return run_async<RollCall>(
        env, [g, grace] { return g->roll_call(std::chrono::milliseconds(grace)); },
        [](Napi::Env env, RollCall& r) -> Napi::Value {
          auto o = Napi::Object::New(env);
          o.Set("storeReachable", r.store_reachable);
          auto a = Napi::Array::New(env, r.answered.size());
          for (size_t i = 0; i < r.answered.size(); ++i) a.Set(i, r.answered[i]);
          o.Set("answered", a);
          return o;
        });
  }

  // The last reference may be held by a running call: the group (and its threads) go when that call ends, on a
  // worker thread, so closing never blocks the event loop.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    auto g = std::move(group_);
    group_.reset();
    return run_async<int>(
        info.Env(), [g]() mutable { return g.reset(), 0; }, [](Napi::Env env, int&) { return env.Undefined(); });
  }

  std::shared_ptr<DistGroup> group_;
};

Napi::FunctionReference* NativeProcessGroup::constructor = nullptr;

// connectGroup({rank, world, masterAddr, masterPort, timeoutMs?, backend?, deviceIndex?}) -> Promise<NativeProcessGroup>
Napi::Value ConnectGroup(const Napi::CallbackInfo& info) {
  auto env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "connectGroup(options)");
  auto o = info[0].As<Napi::Object>();
  auto go = guard(env, [&] {
    GroupOptions g;
    g.rank = static_cast<int>(require_int(o, "rank", "connectGroup"));
    g.world = static_cast<int>(require_int(o, "world", "connectGroup"));
    g.master_addr = get_string(o, "masterAddr", g.master_addr);
    g.master_port = static_cast<int>(get_int(o, "masterPort", g.master_port));
    g.timeout = std::chrono::milliseconds(get_int(o, "timeoutMs", g.timeout.count()));
    g.backend = get_string(o, "backend", g.backend);
    g.device_index = static_cast<int>(get_int(o, "deviceIndex", 0));
    if (g.timeout.count() <= 0) throw std::invalid_argument("connectGroup: timeoutMs must be positive");
    return g;
  });
  return run_async<std::shared_ptr<DistGroup>>(
      env, [go] { return connect_group(go); },
      [](Napi::Env env, std::shared_ptr<DistGroup>& g) -> Napi::Value { return NativeProcessGroup::Wrap(env, g); });
}

Napi::Value DistInfo(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("compiled", dist_compiled());
  o.Set("backends", dist_backends());
  return o;
}

}  // namespace

std::shared_ptr<DistGroup> group_of(const Napi::Value& v, const char* what) {
  if (!v.IsObject() || !NativeProcessGroup::constructor ||
      !v.As<Napi::Object>().InstanceOf(NativeProcessGroup::constructor->Value()))
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a NativeProcessGroup");
  return NativeProcessGroup::Unwrap(v.As<Napi::Object>())->live(v.Env());
}

std::shared_ptr<DistGroup> optional_group(const Napi::Object& o, const char* key) {
  auto v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  return group_of(v, key);
}

void register_dist(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeProcessGroup", NativeProcessGroup::Define(env));
  exports.Set("connectGroup", Napi::Function::New(env, ConnectGroup));
  exports.Set("distInfo", Napi::Function::New(env, DistInfo));
}

}  // namespace paprec
