//===- Serialize.h - Tensors to and from safetensors files ------*- C++ -*-===//
//
// The safetensors format (https://github.com/huggingface/safetensors), so that
// weights move between kiln and PyTorch:
//
//   u64 little-endian N | N bytes of JSON header | raw little-endian data
//
// The header maps each name to {"dtype": "F32"|"F64"|"I64"|"U8"|"BOOL",
// "shape": [...], "data_offsets": [begin, end]} (offsets into the data that
// follows the header), plus an optional "__metadata__" object of strings.
//
// Saving is atomic and durable: a temporary file in the same directory is
// written, fsync'ed and renamed over the target, then the directory is
// fsync'ed; a crash leaves the old file or the new one, never a mix.
// Loading checks everything before trusting it and reports the first problem.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Tensor.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

/// Named tensors in a chosen order (a state_dict).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
/// The free-form "__metadata__" entries, in file order.
using TensorMetadata = std::vector<std::pair<std::string, std::string>>;

/// What a safetensors file holds.
struct SafetensorsContents {
  /// In the order of the header (the order they were saved in by kiln).
  NamedTensors tensors;
  TensorMetadata metadata;
};

/// Limits on what a file may declare; larger is an Error(Resource).
struct SafetensorsLimits {
  /// Largest JSON header (the reference implementation's limit).
  uint64_t maxHeaderBytes = 100u << 20;
  /// Most tensors in one file.
  size_t maxTensors = 1u << 20;
  /// Largest rank of one tensor.
  size_t maxRank = 64;
};

/// Writes `tensors` (their values; gradients and history are not saved) in
/// the given order, atomically and durably (see above). Names must be unique
/// and not "__metadata__" (Error(Usage)); an I/O failure is
/// Error(Io) and leaves any existing file untouched.
void save_safetensors(const std::filesystem::path &path, const NamedTensors &tensors,
                      const TensorMetadata &metadata = {});

/// Reads a safetensors file. Validates the header length against the file
/// size and the limit, the JSON (a bounded, non-recursive parser), every
/// dtype and shape, and that the data offsets match the shapes, stay inside
/// the data, do not overlap and leave no gap; bool values must be 0 or 1.
/// The first problem is an Error(Format) (Error(Resource) past a limit,
/// Error(Io) when unreadable) whose where() is "PATH @ byte N". The result's
/// tensors are leaves with requires_grad=false.
SafetensorsContents read_safetensors(const std::filesystem::path &path,
                                     const SafetensorsLimits &limits = {});

/// read_safetensors(path).tensors.
NamedTensors load_safetensors(const std::filesystem::path &path,
                              const SafetensorsLimits &limits = {});

} // namespace kiln
