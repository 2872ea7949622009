//===- LibtorchVersion.h - The libtorch a peer was built with ---*- C++ -*-===//
#pragma once

#include <torch/version.h>

namespace kiln::bench {

/// What the libtorch peers print as their version (Debian's 1.13 headers
/// define TORCH_VERSION; older ones did not).
#ifdef TORCH_VERSION
inline constexpr const char *kTorchVersion = TORCH_VERSION;
#else
inline constexpr const char *kTorchVersion = "1.13";
#endif

} // namespace kiln::bench
