#include "dist/group.h"

#include <stdexcept>
#include <thread>

#ifdef PAPREC_WITH_DIST
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(PAPREC_WITH_CUDA) && defined(PAPREC_WITH_NCCL)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace paprec {
namespace {

std::string text_of(const std::exception& e) {
  if (auto c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

std::string where(const GroupOptions& o) {
  return "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world);
}

std::string address(const GroupOptions& o) { return o.master_addr + ":" + std::to_string(o.master_port); }

}  // namespace

#ifdef PAPREC_WITH_DIST

namespace {

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// One c10d backend (ProcessGroupGloo, ProcessGroupNCCL) behind DistGroup. Calls are serialised: every rank must
// issue the same collectives in the same order, and one worker thread at a time keeps that true.
template <typename Backend>
class C10dGroup final : public DistGroup {
 public:
  C10dGroup(GroupOptions o, c10::intrusive_ptr<c10d::Store> store, c10::intrusive_ptr<Backend> pg, torch::Device device)
      : DistGroup(std::move(o)), store_(std::move(store)), pg_(std::move(pg)), device_(device) {}

  void all_reduce_sum(std::vector<torch::Tensor>& tensors) override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<torch::Tensor> on;
    for (auto& t : tensors) on.push_back(t.to(device_).contiguous());
    // One collective per tensor, all in flight together (the buckets of a gradient overlap each other).
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (auto& t : on) {
      std::vector<torch::Tensor> one{t};
      works.push_back(pg_->allreduce(one));
    }
    for (auto& w : works) wait(w, "all-reduce");
    for (size_t i = 0; i < tensors.size(); ++i)
      if (!on[i].is_same(tensors[i])) tensors[i].copy_(on[i]);
  }

  torch::Tensor all_gather(const torch::Tensor& t) override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<torch::Tensor> in{t.to(device_).contiguous()};
    std::vector<std::vector<torch::Tensor>> out(1);
    for (int r = 0; r < world(); ++r) out[0].push_back(torch::empty_like(in[0]));
    wait(pg_->allgather(out, in), "all-gather");
    return torch::stack(out[0]).to(t.device());
  }

  void broadcast(torch::Tensor& t, int root) override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<torch::Tensor> one{t.to(device_).contiguous()};
    c10d::BroadcastOptions bo;
    bo.rootRank = root;
    wait(pg_->broadcast(one, bo), "broadcast");
    if (!one[0].is_same(t)) t.copy_(one[0]);
  }

  void barrier() override {
    std::lock_guard<std::mutex> lock(mutex_);
    // A tiny all-reduce instead of c10d's barrier: NCCL's guesses a device, Gloo's works on either.
    std::vector<torch::Tensor> one{torch::zeros({1}, torch::TensorOptions().device(device_))};
    wait(pg_->allreduce(one), "barrier");
  }

  RollCall roll_call(std::chrono::milliseconds grace) override {
    RollCall r;
    const auto key = [](int rank) { return "paprec/roll-call/" + std::to_string(rank); };
    try {
      store_->set(key(rank()), std::vector<uint8_t>{1});
      const auto deadline = std::chrono::steady_clock::now() + grace;
      std::vector<bool> seen(world(), false);
      for (;;) {
        int count = 0;
        for (int q = 0; q < world(); ++q) count += (seen[q] = seen[q] || store_->check({key(q)})) ? 1 : 0;
        if (count == world() || std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      for (int q = 0; q < world(); ++q)
        if (seen[q]) r.answered.push_back(q);
    } catch (const std::exception&) {
      r.store_reachable = false;  // rank 0 hosts the store: it is gone
      r.answered = {rank()};
    }
    return r;
  }

 private:
  void wait(const c10::intrusive_ptr<c10d::Work>& w, const char* what) {
    try {
      w->wait(options_.timeout);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(what) + " on " + where(options_) + " failed: " + text_of(e));
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<Backend> pg_;
  torch::Device device_;
  std::mutex mutex_;
};

std::shared_ptr<::gloo::transport::Device> gloo_device(const GroupOptions& o) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (is_loopback(o.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

bool dist_compiled() { return true; }

std::string dist_backends() {
#if defined(PAPREC_WITH_CUDA) && defined(PAPREC_WITH_NCCL)
  return "gloo,nccl";
#else
  return "gloo";
#endif
}

std::shared_ptr<DistGroup> connect_group(const GroupOptions& o) {
  if (o.world < 1 || o.rank < 0 || o.rank >= o.world)
    throw std::invalid_argument("process group: rank " + std::to_string(o.rank) + " is outside a world of " +
                                std::to_string(o.world));
  if (o.master_port < 1 || o.master_port > 65535)
    throw std::invalid_argument("process group: MASTER_PORT " + std::to_string(o.master_port) + " is not a TCP port");
  const double seconds = static_cast<double>(o.timeout.count()) / 1000.0;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(o.master_port);
    so.isServer = o.rank == 0;
    so.numWorkers = static_cast<size_t>(o.world);
    so.waitWorkers = true;
    so.timeout = o.timeout;
    store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
  } catch (const std::exception& e) {
    throw std::runtime_error("rendezvous at " + address(o) + " (" + where(o) + ") did not complete within " +
                             c10::str(seconds) + " s: " + text_of(e));
  }
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("paprec", store);
  try {
    if (o.backend == "gloo") {
      auto go = c10d::ProcessGroupGloo::Options::create();
      go->timeout = o.timeout;
      go->devices.push_back(gloo_device(o));
      auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, o.rank, o.world, go);
      return std::make_shared<C10dGroup<c10d::ProcessGroupGloo>>(o, store, pg, torch::Device(torch::kCPU));
    }
    if (o.backend == "nccl") {
#if defined(PAPREC_WITH_CUDA) && defined(PAPREC_WITH_NCCL)
      auto no = c10d::ProcessGroupNCCL::Options::create();
      no->timeout = o.timeout;
      auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, o.rank, o.world, no);
      return std::make_shared<C10dGroup<c10d::ProcessGroupNCCL>>(o, store, pg,
                                                                 torch::Device(torch::kCUDA, o.device_index));
#else
      throw std::invalid_argument("this paprec build has no NCCL (it was built without CUDA or without nccl.h): use --backend gloo");
#endif
    }
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(o.backend + " process group over the store at " + address(o) + " (" + where(o) +
                             ") could not connect within " + c10::str(seconds) + " s: " + text_of(e));
  }
  throw std::invalid_argument("process group: unknown backend \"" + o.backend + "\" (expected gloo or nccl)");
}

#else  // no c10d in this build

bool dist_compiled() { return false; }
std::string dist_backends() { return ""; }

std::shared_ptr<DistGroup> connect_group(const GroupOptions& o) {
  throw std::runtime_error("this paprec build has no torch.distributed (c10d) support, so it cannot run " +
                           std::to_string(o.world) + " processes (" + where(o) + " at " + address(o) +
                           "): rebuild where LibTorch's c10d headers and gloo's headers (Debian: libgloo-dev) are "
                           "installed, or run one process");
}

#endif

}  // namespace paprec
