// The JS class `NativeProcessGroup` (bind/dist.cc), for the bindings that take a group as an option.
#pragma once
#include <napi.h>

#include <memory>

#include "dist/group.h"

namespace paprec {

// The group behind a JS NativeProcessGroup, or a thrown TypeError (also once it was closed).
std::shared_ptr<DistGroup> group_of(const Napi::Value& value, const char* what);

// The group of option `key` of `o`, or nullptr when the option is absent.
std::shared_ptr<DistGroup> optional_group(const Napi::Object& o, const char* key);

}  // namespace paprec
