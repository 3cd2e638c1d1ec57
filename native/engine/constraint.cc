#include "engine/constraint.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

namespace paprec {

PrefixTrie::PrefixTrie(const std::vector<int64_t>& ids, const std::vector<int64_t>& offsets, int64_t vocab_size,
                       const std::string& what) {
  auto bad = [&what](const std::string& m) { throw std::invalid_argument(what + ": " + m); };
  if (offsets.size() < 2) bad("no sequences (offsets needs n + 1 >= 2 entries)");
  if (offsets.front() != 0 || offsets.back() != static_cast<int64_t>(ids.size()))
    bad("offsets must start at 0 and end at the number of ids (" + std::to_string(ids.size()) + ")");
  nodes_.emplace_back();
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    const int64_t begin = offsets[s], end = offsets[s + 1];
    if (end <= begin) bad("sequence " + std::to_string(s) + " is empty (offsets must increase)");
    int64_t node = 0;
    for (int64_t p = begin; p < end; ++p) {
      const int64_t token = ids[p];
      if (token < 0 || token >= vocab_size)
        bad("sequence " + std::to_string(s) + " holds id " + std::to_string(token) + ", outside [0, " +
            std::to_string(vocab_size) + ")");
      auto& n = nodes_[node];
      auto at = std::lower_bound(n.tokens.begin(), n.tokens.end(), token);
      const auto i = at - n.tokens.begin();
      if (at != n.tokens.end() && *at == token) {
        node = n.children[i];
        continue;
      }
      const int64_t child = static_cast<int64_t>(nodes_.size());
      n.tokens.insert(at, token);
      n.children.insert(n.children.begin() + i, child);
      nodes_.emplace_back();  // after the inserts: `n` may dangle once nodes_ grows
      node = child;
    }
  }
  count_ = static_cast<int64_t>(offsets.size()) - 1;
}

int64_t PrefixTrie::walk(const int64_t* prefix, int64_t length) const {
  int64_t node = 0;
  for (int64_t p = 0; p < length; ++p) {
    const auto& n = nodes_[node];
    auto at = std::lower_bound(n.tokens.begin(), n.tokens.end(), prefix[p]);
    if (at == n.tokens.end() || *at != prefix[p]) return -1;
    node = n.children[at - n.tokens.begin()];
  }
  return node;
}

PrefixConstraint::PrefixConstraint(std::vector<PrefixTrie> tries, std::vector<int64_t> row_trie)
    : tries_(std::move(tries)), row_trie_(std::move(row_trie)) {
  if (tries_.empty()) throw std::invalid_argument("constraint: no sequence sets");
  for (size_t r = 0; r < row_trie_.size(); ++r)
    if (row_trie_[r] < -1 || row_trie_[r] >= static_cast<int64_t>(tries_.size()))
      throw std::invalid_argument("constraint rowSet[" + std::to_string(r) + "] = " + std::to_string(row_trie_[r]) +
                                  " is outside [-1, " + std::to_string(tries_.size()) + ")");
}

void PrefixConstraint::check_rows(int64_t rows) const {
  if (!row_trie_.empty() && static_cast<int64_t>(row_trie_.size()) != rows)
    throw std::invalid_argument("constraint: rowSet has " + std::to_string(row_trie_.size()) +
                                " entries, the batch has " + std::to_string(rows) + " rows");
}

const PrefixTrie* PrefixConstraint::trie_of(int64_t row) const {
  if (row_trie_.empty()) return &tries_.front();
  if (row >= static_cast<int64_t>(row_trie_.size())) throw std::logic_error("constraint: row outside rowSet");
  return row_trie_[row] < 0 ? nullptr : &tries_[row_trie_[row]];
}

namespace {

// Keeps the allowed (row, token) entries of `scores` and the free rows whole; everything else becomes -inf.
void keep_allowed(torch::Tensor& scores, const std::vector<int64_t>& rows, const std::vector<int64_t>& tokens,
                  const std::vector<int64_t>& free_rows) {
  auto out = torch::full_like(scores, -std::numeric_limits<float>::infinity());
  auto dev = scores.device();
  if (!rows.empty()) {
    auto r = torch::tensor(rows, torch::kLong).to(dev), t = torch::tensor(tokens, torch::kLong).to(dev);
    out.index_put_({r, t}, scores.index({r, t}));
  }
  if (!free_rows.empty()) {
    auto f = torch::tensor(free_rows, torch::kLong).to(dev);
    out.index_copy_(0, f, scores.index_select(0, f));
  }
  scores = out;
}

}  // namespace

void PrefixConstraint::mask_beams(torch::Tensor& logprobs, const std::vector<std::vector<int64_t>>& seqs,
                                  const std::vector<int64_t>& active, int64_t width) const {
  std::vector<int64_t> rows, tokens, free_rows;
  for (int64_t r = 0; r < static_cast<int64_t>(seqs.size()); ++r) {
    const PrefixTrie* trie = trie_of(active[r / width]);
    if (!trie) {
      free_rows.push_back(r);
      continue;
    }
    const auto& seq = seqs[r];
    const int64_t node = trie->walk(seq.data() + 1, static_cast<int64_t>(seq.size()) - 1);
    if (node < 0) continue;  // a dead beam (it took a -inf token): nothing may follow
    for (int64_t t : trie->allowed(node)) {
      rows.push_back(r);
      tokens.push_back(t);
    }
  }
  keep_allowed(logprobs, rows, tokens, free_rows);
}

void PrefixConstraint::mask_greedy(torch::Tensor& logits, const torch::Tensor& ids) const {
  auto host = ids.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t n = host.size(0), t = host.size(1);
  const int64_t* data = host.data_ptr<int64_t>();
  std::vector<int64_t> rows, tokens, free_rows;
  for (int64_t r = 0; r < n; ++r) {
    const PrefixTrie* trie = trie_of(r);
    if (!trie) {
      free_rows.push_back(r);
      continue;
    }
    const int64_t node = trie->walk(data + r * t + 1, t - 1);
    if (node < 0) continue;  // finished (past its eos): it is fed pad whatever the mask says
    for (int64_t tok : trie->allowed(node)) {
      rows.push_back(r);
      tokens.push_back(tok);
    }
  }
  keep_allowed(logits, rows, tokens, free_rows);
}

}  // namespace paprec
