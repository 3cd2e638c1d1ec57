#include "bind/constraint.h"

#include <string>
#include <vector>

#include "bind/generation_common.h"

namespace paprec {

std::shared_ptr<const PrefixConstraint> read_constraint(const Napi::Object& options, int64_t rows, int64_t vocab_size) {
  auto v = options.Get("constraint");
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (!v.IsObject()) throw std::invalid_argument("constraint: expected {sets, rowSet?}");
  auto c = v.As<Napi::Object>();
  auto sets = c.Get("sets");
  if (!sets.IsArray() || sets.As<Napi::Array>().Length() == 0)
    throw std::invalid_argument("constraint.sets: expected a non-empty array of {ids, offsets}");
  auto arr = sets.As<Napi::Array>();
  std::vector<PrefixTrie> tries;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const std::string what = "constraint.sets[" + std::to_string(i) + "]";
    if (!arr.Get(i).IsObject()) throw std::invalid_argument(what + ": expected {ids, offsets}");
    auto s = arr.Get(i).As<Napi::Object>();
    tries.emplace_back(int_vector(s.Get("ids"), what + ".ids"), int_vector(s.Get("offsets"), what + ".offsets"),
                       vocab_size, what);
  }
  std::vector<int64_t> row_set;
  auto rs = c.Get("rowSet");
  if (!rs.IsUndefined() && !rs.IsNull()) row_set = int_vector(rs, "constraint.rowSet");
  auto out = std::make_shared<const PrefixConstraint>(std::move(tries), std::move(row_set));
  out->check_rows(rows);
  return out;
}

}  // namespace paprec
