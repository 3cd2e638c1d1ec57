// A process group of a distributed run (paper-free plumbing: torch.distributed's c10d, as `torchrun` sets it up):
// Gloo over TCP on CPU, NCCL on CUDA, after a TCPStore rendezvous at MASTER_ADDR:MASTER_PORT. The engine sees only
// this interface, so every build compiles its callers; the c10d implementation exists where CMake found LibTorch's
// c10d headers and gloo's (PAPREC_WITH_DIST). Every call blocks until the collective is done on this rank: callers
// run it on a worker thread. A failed or timed-out collective throws, naming the collective, the rank and the world.
#pragma once
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace paprec {

struct GroupOptions {
  int rank = 0, world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::chrono::milliseconds timeout{1800 * 1000};  // rendezvous and each collective (torch's default: 30 min)
  std::string backend = "gloo";                    // "gloo" | "nccl"
  int device_index = 0;                            // nccl: the CUDA device of this rank (LOCAL_RANK)
};

// The ranks that answered a roll call after a failure, and whether the rendezvous store was still reachable.
struct RollCall {
  bool store_reachable = true;
  std::vector<int> answered;
};

class DistGroup {
 public:
  virtual ~DistGroup() = default;
  int rank() const { return options_.rank; }
  int world() const { return options_.world; }
  const GroupOptions& options() const { return options_; }

  // In place, over every rank: the element-wise sum. Any device and dtype the backend takes (float, double, int).
  virtual void all_reduce_sum(std::vector<torch::Tensor>& tensors) = 0;
  // [world, ...t.sizes()]: every rank's t (same shape and dtype on every rank).
  virtual torch::Tensor all_gather(const torch::Tensor& t) = 0;
  // In place: root's t on every rank.
  virtual void broadcast(torch::Tensor& t, int root) = 0;
  virtual void barrier() = 0;
  // After a failure: each rank that can still reach the store answers; waits up to `grace` for the others.
  virtual RollCall roll_call(std::chrono::milliseconds grace) = 0;

 protected:
  explicit DistGroup(GroupOptions o) : options_(std::move(o)) {}
  GroupOptions options_;
};

// Whether this build has c10d, and its backends ("gloo", "gloo,nccl"; "" without).
bool dist_compiled();
std::string dist_backends();

// Rendezvous and the backend's own connection set-up, bounded by options.timeout. Throws naming the address.
std::shared_ptr<DistGroup> connect_group(const GroupOptions& options);

}  // namespace paprec
