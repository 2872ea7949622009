//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// A small, strict reader and writer of the NumPy array format (versions 1, 2
// and 3 of the header), so that `kiln run` takes inputs from and writes
// outputs to Python. Supported element types: little-endian '<f4', '<f8',
// '<i8', and '|u1', '|b1'; C order only.
//
// The reader trusts nothing: it checks the magic, the header dictionary, the
// dtype and shape, and that the file holds exactly the bytes the header
// promises, all before allocating the tensor.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/ir/HostTensor.h"

#include <cstdint>
#include <iosfwd>
#include <string>

namespace kiln::tool {

/// Reads the .npy file at `path`. Throws Error(Io) when it cannot be read,
/// Error(Format) located as "PATH @ byte N" when it is malformed or not
/// supported, Error(Resource) when the tensor would exceed maxTensorBytes().
ir::HostTensor readNpy(const std::string &path);

/// Reads a .npy image of exactly `size` bytes from `in`; `name` names it in
/// diagnostics.
ir::HostTensor readNpy(std::istream &in, uint64_t size, const std::string &name);

/// The .npy encoding of `t` (version 1.0, or 2.0 for a huge header).
std::string encodeNpy(const ir::HostTensor &t);

/// Writes `t` to `path` as .npy. Throws Error(Io).
void writeNpy(const std::string &path, const ir::HostTensor &t);

/// The NumPy dtype string of `t`: "<f4", "<f8", "<i8", "|u1" or "|b1".
std::string npyDescr(ir::DType t);

} // namespace kiln::tool
