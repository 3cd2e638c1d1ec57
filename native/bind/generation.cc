// Generation, resident example sets, slot gradients (filled in by the evaluation work).
#include "bind/register.h"

namespace paprec {
void register_generation(Napi::Env, Napi::Object) {}
}  // namespace paprec
