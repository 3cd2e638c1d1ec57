// Device check (not part of the addon): the engine's CUDA stream path against its single-stream path, and timings.
#include <chrono>
#include <cstdio>
#include <random>

#include "engine/example_set.h"
#include "engine/generate.h"
#include "engine/shards.h"
#include "engine/slots.h"

using namespace paprec;

static ExampleSetData make_set(int64_t n, int64_t len, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  ExampleSetData d;
  d.size = n;
  d.num_task_slots = 5;
  d.has_user_slot = true;
  d.num_users = std::max<int64_t>(1, n / 4);
  d.input_offsets.push_back(0);
  d.target_offsets.push_back(0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t L = len - 5 + static_cast<int64_t>(rng() % 11);
    for (int64_t p = 0; p < L - 1; ++p) {
      d.input_ids.push_back(3 + static_cast<int64_t>(rng() % (vocab - 200)));
      d.whole_word_ids.push_back(std::min<int64_t>(p + 1, 511));
    }
    d.input_ids.push_back(1);
    d.whole_word_ids.push_back(0);
    d.input_offsets.push_back(static_cast<int64_t>(d.input_ids.size()));
    for (int64_t j = 0; j < 5; ++j) d.slot_positions.push_back(L - 7 + j);
    d.slot_positions.push_back(L - 2);
    for (int j = 0; j < 3; ++j) d.target_ids.push_back(3 + static_cast<int64_t>(rng() % (vocab - 200)));
    d.target_ids.push_back(1);
    d.target_offsets.push_back(static_cast<int64_t>(d.target_ids.size()));
    d.user_index.push_back(i % d.num_users);
  }
  return d;
}

static double secs(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

int main() {
  torch::Device cuda(torch::kCUDA, 0);
  std::printf("torch %d.%d.%d, cuda available %d\n", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH,
              (int)torch::cuda::is_available());
  // 1. invariance on a small model
  {
    P5Config c;
    c.vocab_size = 500; c.d_model = 64; c.d_kv = 16; c.d_ff = 128; c.num_heads = 4; c.num_layers = 2;
    c.num_decoder_layers = 2; c.whole_word_embeddings = true; c.whole_word_size = 512;
    P5Model m(c);
    m.to(cuda, torch::kFloat32);
    m.init_weights(1);
    ResidentSet set(make_set(40, 20, 500, 3), 500, 512, cuda, 4);
    Assignment a{torch::tensor(std::vector<int64_t>{10, 20, 30, 40, 50}).to(cuda), torch::arange(10, 20).to(cuda)};
    EvaluateOptions o;
    o.gen.num_beams = 5; o.gen.num_return_sequences = 5; o.gen.max_length = 6; o.gen.early_stopping = true;
    o.ranking = false;
    o.shards = 1;
    auto ids1 = evaluate(m, set, a, o);
    o.shards = 4;
    auto ids4 = evaluate(m, set, a, o);
    std::printf("generated ids identical 1 vs 4 streams: %d (size %ld)\n", (int)torch::equal(ids1, ids4), (long)ids1.numel());
    SlotGradientOptions g;
    g.per_user = true; g.shards = 1;
    auto g1 = slot_gradients(m, set, a, g);
    g.shards = 4;
    auto g4 = slot_gradients(m, set, a, g);
    std::printf("gradients 1 vs 4 streams: task max diff %.3g, user max diff %.3g (max |g| %.3g)\n",
                (g1.task - g4.task).abs().max().item<double>(), (g1.user - g4.user).abs().max().item<double>(),
                g1.task.abs().max().item<double>());
    auto l1 = example_losses(m, set, a, 1), l4 = example_losses(m, set, a, 4);
    std::printf("losses 1 vs 4 streams max diff %.3g\n", (l1 - l4).abs().max().item<double>());
    // CPU vs CUDA: same weights
    P5Model mc(c);
    mc.init_weights(1);
    ResidentSet setc(make_set(40, 20, 500, 3), 500, 512, torch::kCPU, 4);
    Assignment ac{a.task.cpu(), a.user.cpu()};
    o.shards = 1;
    auto idsc = evaluate(mc, setc, ac, o);
    std::printf("generated ids CUDA vs CPU equal rows: %ld / 40\n",
                (long)(idsc == ids1).all(1).sum().item<int64_t>());
  }
  // 2. timings at p5-small shape
  {
    P5Config c;  // defaults are t5-small / p5-small
    c.vocab_size = 32100; c.d_model = 512; c.d_kv = 64; c.d_ff = 2048; c.num_heads = 8; c.num_layers = 6;
    c.num_decoder_layers = 6; c.whole_word_embeddings = true; c.whole_word_size = 512;
    P5Model m(c);
    m.to(cuda, torch::kFloat32);
    m.init_weights(1);
    Assignment a{torch::tensor(std::vector<int64_t>{100, 200, 300, 400, 500}).to(cuda), torch::Tensor()};
    for (int64_t bs : {32, 128}) {
      ResidentSet set(make_set(2000, 45, 32100, 5), 32100, 512, cuda, bs);
      EvaluateOptions o;
      o.gen.num_beams = 5; o.gen.num_return_sequences = 5; o.gen.max_length = 5; o.gen.early_stopping = true;
      o.shards = 1;
      evaluate(m, set, a, o);  // warm-up
      for (int64_t s : {1, 2, 4, 8}) {
        o.shards = s;
        torch::cuda::synchronize();
        auto t = std::chrono::steady_clock::now();
        evaluate(m, set, a, o);
        torch::cuda::synchronize();
        std::printf("surrogate 2000 ex (5 beams top 5), batch %ld, %ld streams: %.3f s\n", (long)bs, (long)s, secs(t));
      }
      SlotGradientOptions g;
      for (int64_t s : {1, 4}) {
        g.shards = s;
        auto t = std::chrono::steady_clock::now();
        slot_gradients(m, set, a, g);
        torch::cuda::synchronize();
        std::printf("gradient pass 2000 ex, batch %ld, %ld streams: %.3f s = %.0f ex/s\n", (long)bs, (long)s, secs(t), 2000 / secs(t));
      }
    }
    // beam searches / s cached vs naive, 16 examples
    auto d = make_set(16, 45, 32100, 7);
    ResidentSet set(d, 32100, 512, cuda, 16);
    const auto& b = set.batches()[0].batch;
    for (auto [nb, nr] : {std::pair<int64_t, int64_t>{5, 5}, {20, 10}}) {
      GenerateOptions go;
      go.num_beams = nb; go.num_return_sequences = nr; go.max_length = 5; go.early_stopping = true;
      generate(m, b.input_ids, b.attention_mask, b.whole_words(), go);
      torch::cuda::synchronize();
      auto t = std::chrono::steady_clock::now();
      for (int r = 0; r < 5; ++r) generate(m, b.input_ids, b.attention_mask, b.whole_words(), go);
      torch::cuda::synchronize();
      const double fast = 80 / secs(t);
      t = std::chrono::steady_clock::now();
      generate_naive(m, b.input_ids, b.attention_mask, b.whole_words(), go);
      torch::cuda::synchronize();
      const double slow = 16 / secs(t);
      std::printf("beam %ld top %ld: %.1f searches/s cached, %.1f naive, x%.2f\n", (long)nb, (long)nr, fast, slow, fast / slow);
    }
  }
  return 0;
}
