// Backbone training (filled in by the training work).
#include "bind/register.h"

namespace paprec {
void register_training(Napi::Env, Napi::Object) {}
}  // namespace paprec
