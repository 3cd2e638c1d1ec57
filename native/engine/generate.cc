#include "engine/generate.h"

#include "engine/constraint.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace paprec {
namespace {

// How the search gets next-token logits: from the KV cache (one new position per step) or, in the comparison
// path, from the full decoder over every prefix.
struct Stepper {
  std::function<torch::Tensor(const torch::Tensor& prefixes)> logits;  // prefixes [R, t] -> logits [R, V]
  // beams chose their parents (rows); with `examples`, only those examples stay in the batch
  std::function<void(const torch::Tensor& rows, const std::optional<torch::Tensor>& examples)> reorder;
};

// HF's BeamHypotheses: the best `num_beams` finished hypotheses of one example.
struct Hypotheses {
  struct Hyp {
    double score;
    std::vector<int64_t> tokens;  // start token first, no eos
  };
  int64_t num_beams;
  double length_penalty;
  bool early_stopping;
  std::vector<Hyp> beams;
  double worst = 1e9;

  void add(const std::vector<int64_t>& tokens, double sum_logprobs) {
    const double score = sum_logprobs / std::pow(static_cast<double>(tokens.size()), length_penalty);
    if (static_cast<int64_t>(beams.size()) < num_beams || score > worst) {
      beams.push_back({score, tokens});
      if (static_cast<int64_t>(beams.size()) > num_beams) {
        // drop the worst; the new worst is the second-worst before the drop
        size_t lo = 0;
        for (size_t i = 1; i < beams.size(); ++i)
          if (beams[i].score < beams[lo].score) lo = i;
        beams.erase(beams.begin() + static_cast<std::ptrdiff_t>(lo));
        worst = beams.front().score;
        for (const auto& h : beams) worst = std::min(worst, h.score);
      } else {
        worst = std::min(score, worst);
      }
    }
  }

  bool is_done(double best_sum_logprobs, int64_t cur_len) const {
    if (static_cast<int64_t>(beams.size()) < num_beams) return false;
    if (early_stopping) return true;
    return worst >= best_sum_logprobs / std::pow(static_cast<double>(cur_len), length_penalty);
  }
};

// One beam search over B examples, in its phases: start (the constructor), then step() and reorder() while
// open(), then finish(). The examples still searching are `active_` (indices into the batch); at step 1 every beam
// of an example holds the same start token, so one is decoded (HF decodes all and parks the others at -1e9).
class BeamSearch {
 public:
  BeamSearch(int64_t B, const GenerateOptions& o, const torch::Device& device)
      : o_(o), nb_(o.num_beams), device_(device), active_(B), seqs_(B, std::vector<int64_t>{o.start}),
        host_scores_(B, 0.0f), hyps_(B, Hypotheses{o.num_beams, o.length_penalty, o.early_stopping, {}, 1e9}) {
    for (int64_t b = 0; b < B; ++b) active_[b] = b;
    ids_ = torch::full({B, 1}, o.start, torch::TensorOptions().dtype(torch::kLong).device(device));
    beam_scores_ = torch::zeros({B}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  }

  bool open() const { return cur_len_ < o_.max_length && !active_.empty(); }
  bool live() const { return !active_.empty(); }
  const torch::Tensor& prefixes() const { return ids_; }

  // From the next-token logits of every live beam [A * width, V]: hypotheses that emit eos are closed, each open
  // example keeps its best num_beams continuations, an example that is done leaves the batch.
  void step(const torch::Tensor& logits) {
    const int64_t A = static_cast<int64_t>(active_.size()), nb = nb_;
    const int64_t V = logits.size(1);
    auto scores = torch::log_softmax(logits.to(torch::kFloat32), -1);
    if (o_.vocab_limit > 0 && o_.vocab_limit < V) scores.narrow(1, o_.vocab_limit, V - o_.vocab_limit).fill_(-std::numeric_limits<float>::infinity());
    if (o_.constraint) o_.constraint->mask_beams(scores, seqs_, active_, width_);
    if (cur_len_ < o_.min_length) scores.select(1, o_.eos).fill_(-std::numeric_limits<float>::infinity());
    scores = scores + beam_scores_.unsqueeze(1);
    auto top = scores.view({A, width_ * V}).topk(2 * nb, 1, true, true);
    auto vals = std::get<0>(top).to(torch::kCPU).contiguous();
    auto idx = std::get<1>(top).to(torch::kCPU).contiguous();
    auto va = vals.accessor<float, 2>();
    auto ia = idx.accessor<int64_t, 2>();
    kept_.clear(), rows_.clear(), tokens_.clear();
    std::vector<float> next_scores;
    for (int64_t a = 0; a < A; ++a) {
      const int64_t b = active_[a];
      std::vector<int64_t> beam_rows, beam_tokens;
      std::vector<float> beam_scores_host;
      for (int64_t rank = 0; rank < 2 * nb && static_cast<int64_t>(beam_rows.size()) < nb; ++rank) {
        const int64_t token = ia[a][rank] % V, row = a * width_ + ia[a][rank] / V;
        const float score = va[a][rank];
        if (token == o_.eos) {
          if (rank >= nb) continue;  // an eos outside the top num_beams closes nothing
          if (!std::isfinite(score)) continue;  // an eos the constraint (or min_length) ruled out
          hyps_[b].add(seqs_[row], static_cast<double>(score));
        } else {
          beam_rows.push_back(row);
          beam_tokens.push_back(token);
          beam_scores_host.push_back(score);
        }
      }
      if (static_cast<int64_t>(beam_rows.size()) < nb)
        throw std::logic_error("beam search: fewer live candidates than beams (vocabulary too small?)");
      if (hyps_[b].is_done(static_cast<double>(va[a][0]), cur_len_)) continue;
      kept_.push_back(a);
      rows_.insert(rows_.end(), beam_rows.begin(), beam_rows.end());
      tokens_.insert(tokens_.end(), beam_tokens.begin(), beam_tokens.end());
      next_scores.insert(next_scores.end(), beam_scores_host.begin(), beam_scores_host.end());
    }
    std::vector<std::vector<int64_t>> next_seqs(rows_.size());
    for (size_t r = 0; r < rows_.size(); ++r) {
      next_seqs[r] = seqs_[rows_[r]];
      next_seqs[r].push_back(tokens_[r]);
    }
    std::vector<int64_t> next_active;
    for (auto a : kept_) next_active.push_back(active_[a]);
    shrinks_ = static_cast<int64_t>(kept_.size()) < A;
    seqs_ = std::move(next_seqs);
    host_scores_ = std::move(next_scores);
    active_ = std::move(next_active);
    width_ = nb;
    ++cur_len_;
  }

  // The chosen beams continue: the stepper's cache follows their parents (and drops finished examples), the
  // prefixes grow by the chosen tokens.
  void reorder(Stepper& stepper) {
    auto row_index = torch::tensor(rows_, torch::kLong).to(device_);
    stepper.reorder(row_index, shrinks_ ? std::optional<torch::Tensor>(torch::tensor(kept_, torch::kLong).to(device_))
                                        : std::nullopt);
    ids_ = torch::cat({ids_.index_select(0, row_index), torch::tensor(tokens_, torch::kLong).to(device_).view({-1, 1})}, 1);
    beam_scores_ = torch::tensor(host_scores_, torch::kFloat32).to(device_);
  }

  // Examples still open at max_length add their live beams with sum / max_length^lp; then each example's
  // num_return_sequences best hypotheses, best first, eos-terminated and pad-filled.
  GenerateResult finish() {
    const int64_t nb = nb_;
    for (size_t a = 0; a < active_.size(); ++a)
      for (int64_t j = 0; j < nb; ++j) {
        const size_t r = a * static_cast<size_t>(nb) + static_cast<size_t>(j);
        hyps_[active_[a]].add(seqs_[r], static_cast<double>(host_scores_[r]));
      }
    const int64_t nrs = o_.num_return_sequences;
    std::vector<std::vector<int64_t>> best;
    std::vector<float> best_scores;
    size_t longest = 0;
    for (auto& h : hyps_) {
      auto sorted = h.beams;  // ascending, stable: pop from the back = best first (HF's sorted + pop)
      std::stable_sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) { return x.score < y.score; });
      for (int64_t j = 0; j < nrs; ++j) {
        const auto& hyp = sorted[sorted.size() - 1 - j];
        best.push_back(hyp.tokens);
        best_scores.push_back(static_cast<float>(hyp.score));
        longest = std::max(longest, hyp.tokens.size());
      }
    }
    const int64_t width_out = std::min<int64_t>(static_cast<int64_t>(longest) + 1, o_.max_length);
    auto out = torch::full({static_cast<int64_t>(best.size()), width_out}, o_.pad, torch::kLong);
    auto oa = out.accessor<int64_t, 2>();
    for (size_t i = 0; i < best.size(); ++i) {
      const auto& t = best[i];
      for (size_t p = 0; p < t.size(); ++p) oa[i][p] = t[p];
      if (static_cast<int64_t>(t.size()) < o_.max_length) oa[i][t.size()] = o_.eos;
    }
    return {out, torch::tensor(best_scores, torch::kFloat32), {}};
  }

 private:
  const GenerateOptions& o_;
  int64_t nb_;
  torch::Device device_;
  std::vector<int64_t> active_;
  std::vector<std::vector<int64_t>> seqs_;  // every live beam's tokens, start token first
  std::vector<float> host_scores_;          // and its summed log-probabilities
  std::vector<Hypotheses> hyps_;
  torch::Tensor ids_, beam_scores_;         // the same on the device
  int64_t width_ = 1, cur_len_ = 1;
  std::vector<int64_t> kept_, rows_, tokens_;  // the last step's choice: kept examples, parent rows, tokens
  bool shrinks_ = false;
};

GenerateResult beam_search(int64_t B, const GenerateOptions& o, Stepper& stepper, const torch::Device& device) {
  BeamSearch search(B, o, device);
  while (search.open()) {
    search.step(stepper.logits(search.prefixes()));
    if (search.live()) search.reorder(stepper);
  }
  return search.finish();
}

GenerateResult greedy(int64_t B, const GenerateOptions& o, Stepper& stepper, const torch::Device& device) {
  auto long_opts = torch::TensorOptions().dtype(torch::kLong).device(device);
  auto ids = torch::full({B, 1}, o.start, long_opts);
  auto unfinished = torch::ones({B}, long_opts);
  std::vector<torch::Tensor> chosen;
  int64_t cur_len = 1;
  while (cur_len < o.max_length) {
    auto logits = stepper.logits(ids).to(torch::kFloat32);
    if (o.vocab_limit > 0 && o.vocab_limit < logits.size(1)) {
      logits = logits.clone();
      logits.narrow(1, o.vocab_limit, logits.size(1) - o.vocab_limit).fill_(-std::numeric_limits<float>::infinity());
    }
    if (o.constraint) o.constraint->mask_greedy(logits, ids);
    if (cur_len < o.min_length) {
      logits = logits.clone();
      logits.select(1, o.eos).fill_(-std::numeric_limits<float>::infinity());
    }
    auto next = logits.argmax(1);
    next = next * unfinished + o.pad * (1 - unfinished);  // finished rows are fed pad
    chosen.push_back(logits.gather(1, next.unsqueeze(1)));
    ids = torch::cat({ids, next.unsqueeze(1)}, 1);
    unfinished = unfinished * (next != o.eos).to(torch::kLong);
    ++cur_len;
    if (unfinished.max().item<int64_t>() == 0) break;
  }
  auto logits = chosen.empty() ? torch::zeros({B, 0}) : torch::cat(chosen, 1);
  return {ids.to(torch::kCPU), {}, logits.to(torch::kCPU)};
}

Stepper cached_stepper(const P5Model& model, DecoderCache& cache) {
  Stepper s;
  s.logits = [&model, &cache](const torch::Tensor& prefixes) {
    const int64_t t = prefixes.size(1);
    return model.decode_step(prefixes.narrow(1, t - 1, 1), t - 1, cache);
  };
  s.reorder = [&cache](const torch::Tensor& rows, const std::optional<torch::Tensor>& examples) {
    P5Model::select_rows(cache, rows, examples);
  };
  return s;
}

GenerateResult search(int64_t B, const GenerateOptions& o, Stepper& s, const torch::Device& device) {
  return o.num_beams > 1 ? beam_search(B, o, s, device) : greedy(B, o, s, device);
}

}  // namespace

void check_generate_options(const GenerateOptions& o) {
  auto bad = [](const std::string& m) { throw std::invalid_argument("generate: " + m); };
  if (o.num_beams < 1) bad("numBeams must be >= 1, got " + std::to_string(o.num_beams));
  if (o.num_return_sequences < 1 || o.num_return_sequences > o.num_beams)
    bad("numReturnSequences must be in [1, numBeams = " + std::to_string(o.num_beams) + "], got " +
        std::to_string(o.num_return_sequences));
  if (o.max_length < 2) bad("maxLength counts the start token and must be >= 2, got " + std::to_string(o.max_length));
  if (o.min_length < 0 || o.min_length > o.max_length)
    bad("minLength must be in [0, maxLength], got " + std::to_string(o.min_length));
}

GenerateResult generate_encoded(const P5Model& model, const torch::Tensor& encoder_hidden,
                                const torch::Tensor& attention_mask, const GenerateOptions& o) {
  check_generate_options(o);
  const int64_t vocab = o.vocab_limit > 0 ? std::min(o.vocab_limit, model.config().vocab_size) : model.config().vocab_size;
  if (o.eos >= vocab || 2 * o.num_beams > vocab)
    throw std::invalid_argument("generate: the vocabulary is too small for " + std::to_string(o.num_beams) + " beams");
  torch::NoGradGuard no_grad;
  auto cache = model.start_cache(encoder_hidden, attention_mask, o.max_length);
  auto stepper = cached_stepper(model, cache);
  return search(encoder_hidden.size(0), o, stepper, model.device());
}

GenerateResult generate(const P5Model& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const std::optional<torch::Tensor>& whole_word_ids, const GenerateOptions& o) {
  check_generate_options(o);
  torch::NoGradGuard no_grad;
  auto hidden = model.encode(model.embed(input_ids), attention_mask, whole_word_ids);
  return generate_encoded(model, hidden, attention_mask, o);
}

GenerateResult generate_naive(const P5Model& model, const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                              const std::optional<torch::Tensor>& whole_word_ids, const GenerateOptions& o) {
  check_generate_options(o);
  torch::NoGradGuard no_grad;
  const int64_t B = input_ids.size(0), nb = o.num_beams;
  std::vector<GenerateResult> parts;
  int64_t width = 0;
  for (int64_t b = 0; b < B; ++b) {
    auto ids = input_ids.narrow(0, b, 1), mask = attention_mask.narrow(0, b, 1);
    std::optional<torch::Tensor> ww;
    if (whole_word_ids) ww = whole_word_ids->narrow(0, b, 1);
    auto hidden = model.encode(model.embed(ids), mask, ww);
    Stepper s;
    s.logits = [&](const torch::Tensor& prefixes) {
      const int64_t rows = prefixes.size(0);  // every beam carries its own copy of the encoder states
      auto hidden_per_beam = hidden.repeat({rows, 1, 1});
      auto mask_per_beam = mask.repeat({rows, 1});
      return model.lm_head(model.decode(prefixes, hidden_per_beam, mask_per_beam)).select(1, prefixes.size(1) - 1);
    };
    s.reorder = [](const torch::Tensor&, const std::optional<torch::Tensor>&) {};  // the prefixes carry the state
    parts.push_back(search(1, o, s, model.device()));
    width = std::max(width, parts.back().sequences.size(1));
  }
  std::vector<torch::Tensor> seqs, scores;
  for (auto& p : parts) {
    seqs.push_back(torch::constant_pad_nd(p.sequences, {0, width - p.sequences.size(1)}, o.pad));
    if (p.scores.defined()) scores.push_back(p.scores);
  }
  GenerateResult r;
  r.sequences = torch::cat(seqs, 0);
  if (!scores.empty()) r.scores = torch::cat(scores, 0);
  return r;
}

}  // namespace paprec
