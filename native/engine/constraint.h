// Constrained decoding: every generated sequence must follow one of a set of allowed token sequences (the item ids
// of a catalogue, or of one row's candidate list), held in a prefix trie. Applied to the next-token log-probs of
// each step (HF's prefix_allowed_tokens_fn semantics: disallowed tokens get -inf, the rest are not renormalised).
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace paprec {

// A prefix trie over token sequences. Each sequence is what may follow the decoder start token, ending with eos.
class PrefixTrie {
 public:
  // sequences: concatenated ids; offsets: [n + 1], sequence i spans [offsets[i], offsets[i+1]).
  // Throws std::invalid_argument for an empty set, an empty sequence, bad offsets, or ids outside [0, vocab).
  PrefixTrie(const std::vector<int64_t>& ids, const std::vector<int64_t>& offsets, int64_t vocab_size,
             const std::string& what);

  // The node reached from the root along `prefix` (tokens after the start token); -1 when it leaves the trie.
  int64_t walk(const int64_t* prefix, int64_t length) const;
  // The tokens that may follow `node`.
  const std::vector<int64_t>& allowed(int64_t node) const { return nodes_[node].tokens; }
  int64_t size() const { return count_; }

 private:
  struct Node {
    std::vector<int64_t> tokens, children;  // parallel, sorted by token
  };
  std::vector<Node> nodes_;
  int64_t count_ = 0;
};

// Tries plus which one constrains each input row (-1: that row decodes freely).
class PrefixConstraint {
 public:
  // row_trie empty: trie 0 constrains every row. Throws std::invalid_argument on an index outside the tries.
  PrefixConstraint(std::vector<PrefixTrie> tries, std::vector<int64_t> row_trie);

  // Throws std::invalid_argument when the constraint names rows the batch does not have.
  void check_rows(int64_t rows) const;

  // Beam search: log-probs [rows, V] of one step, row r holding prefix seqs[r] (start token first) of batch row
  // active[r / width]; disallowed tokens become -inf.
  void mask_beams(torch::Tensor& logprobs, const std::vector<std::vector<int64_t>>& seqs,
                  const std::vector<int64_t>& active, int64_t width) const;
  // Greedy: logits [rows, V] given the prefixes ids [rows, t] (start token first, any device).
  void mask_greedy(torch::Tensor& logits, const torch::Tensor& ids) const;

 private:
  const PrefixTrie* trie_of(int64_t row) const;
  std::vector<PrefixTrie> tries_;
  std::vector<int64_t> row_trie_;
};

}  // namespace paprec
