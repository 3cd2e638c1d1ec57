// Reading the `constraint` of generate's options: {sets: [{ids: Int32Array, offsets: Int32Array}], rowSet?: Int32Array}.
// Set s holds allowed token sequences (each what may follow the start token, ending with </s>); rowSet[i] names the
// set constraining batch row i (-1: free); without rowSet, set 0 constrains every row.
#pragma once
#include <napi.h>

#include <memory>

#include "engine/constraint.h"

namespace paprec {

// Null when `options` has no constraint; throws std::invalid_argument naming what is wrong.
std::shared_ptr<const PrefixConstraint> read_constraint(const Napi::Object& options, int64_t rows, int64_t vocab_size);

}  // namespace paprec
