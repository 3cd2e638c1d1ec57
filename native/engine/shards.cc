#include "engine/shards.h"

#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#ifdef PAPREC_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace paprec {

int64_t default_shards(const torch::Device& device) { return device.is_cuda() ? 4 : 1; }

int64_t training_shards(const torch::Device& device, int64_t rows, int64_t requested) {
  if (!device.is_cpu()) return 1;
  const int64_t want = requested > 0 ? requested : std::min<int64_t>(at::get_num_threads(), rows / 8);
  return std::max<int64_t>(1, std::min(want, rows));
}

std::vector<int64_t> shard_items(int64_t n, int64_t shards, int64_t s) {
  std::vector<int64_t> out;
  for (int64_t i = s; i < n; i += shards) out.push_back(i);
  return out;
}

void run_sharded(const torch::Device& device, int64_t num_batches, int64_t shards,
                 const std::function<void(int64_t)>& work) {
  if (num_batches < 1) throw std::invalid_argument("sharded pass: the example set has no batches");
  if (shards < 1) throw std::invalid_argument("streams must be >= 1, got " + std::to_string(shards));
  if (shards > num_batches)
    throw std::invalid_argument("streams = " + std::to_string(shards) + " is more than the " +
                                std::to_string(num_batches) + " batch(es) of this example set (more streams than work)");
  run_shards(device, shards, [&](int64_t s) {
    for (auto b : shard_items(num_batches, shards, s)) work(b);
  });
}

void run_shards(const torch::Device& device, int64_t shards, const std::function<void(int64_t)>& shard_body) {
  if (shards == 1) {
    shard_body(0);
    return;
  }
#ifdef PAPREC_WITH_CUDA
  if (device.is_cuda()) {
    const auto index = device.index();
    c10::cuda::getCurrentCUDAStream(index).synchronize();  // the resident tensors were written on the default stream
    std::vector<std::exception_ptr> errors(shards);
    std::vector<std::thread> threads;
    for (int64_t s = 0; s < shards; ++s) {
      threads.emplace_back([&, s] {
        try {
          c10::cuda::CUDAGuard device_guard(index);
          auto stream = c10::cuda::getStreamFromPool(false, index);
          c10::cuda::CUDAStreamGuard stream_guard(stream);
          shard_body(s);
          stream.synchronize();
        } catch (...) {
          errors[s] = std::current_exception();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
    return;
  }
#endif
  (void)device;
  at::parallel_for(0, shards, 1, [&](int64_t begin, int64_t end) {
    for (int64_t s = begin; s < end; ++s) shard_body(s);
  });
}

}  // namespace paprec
