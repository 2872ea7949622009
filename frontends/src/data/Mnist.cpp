//===- Mnist.cpp - MNIST-format directories ---------------------------------===//
#include "kiln/data/Mnist.h"

#include "kiln/data/Idx.h"
#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <system_error>
#include <vector>

namespace kiln::data {
namespace {

/// The accepted file names of one split's images or labels, in search order.
std::vector<std::string> candidateNames(Split split, bool labels) {
  std::string prefix = split == Split::Train ? "train" : "t10k";
  std::string kind = labels ? "labels" : "images";
  std::string suffix = labels ? "idx1-ubyte" : "idx3-ubyte";
  std::vector<std::string> names;
  for (const char *sep : {"-", "."})
    for (const char *ext : {"", ".gz"})
      names.push_back(prefix + "-" + kind + sep + suffix + ext);
  return names;
}

/// The labels as i64, checked to be digits.
ir::HostTensor digitLabels(const ir::HostTensor &labels, const std::string &where) {
  ir::HostTensor out(ir::TensorType{ir::DType::I64, labels.shape()});
  for (int64_t i = 0; i < labels.numel(); ++i) {
    double v = labels.get(i);
    if (!(v >= 0 && v < double(kMnistClasses)) || v != double(int64_t(v)))
      throw Error(
          ErrorKind::Format,
          fmt::format("label {} of example {} is not a class in [0, {})", v, i, kMnistClasses),
          where);
    out.data<int64_t>()[i] = int64_t(v);
  }
  return out;
}

/// The folder of the shared library that holds this code: build/lib in the
/// build tree, PREFIX/lib (or lib/<multiarch>) when installed.
std::filesystem::path libraryDir() {
  Dl_info info;
  if (::dladdr(reinterpret_cast<const void *>(&defaultMnistDir), &info) == 0 ||
      info.dli_fname == nullptr)
    return {};
  std::error_code ec;
  std::filesystem::path library = std::filesystem::canonical(info.dli_fname, ec);
  return ec ? std::filesystem::path() : library.parent_path();
}

} // namespace

MnistDataset::MnistDataset(ir::HostTensor images, ir::HostTensor labels) {
  if (images.dtype() != ir::DType::U8 || images.shape().rank() != 3)
    throw Error(ErrorKind::Shape,
                fmt::format("MNIST images must be u8[N,H,W], got {}", images.type().str()));
  if (labels.shape().rank() != 1 || ir::isFloat(labels.dtype()) ||
      labels.dtype() == ir::DType::Bool)
    throw Error(ErrorKind::Shape,
                fmt::format("MNIST labels must be integers [N], got {}", labels.type().str()));
  if (labels.shape()[0] != images.shape()[0])
    throw Error(ErrorKind::Shape,
                fmt::format("{} images but {} labels", images.shape()[0], labels.shape()[0]));
  labels_ = digitLabels(labels, "");
  images_ = std::move(images);
  size_ = images_.shape()[0];
  imageSize_ = images_.shape()[1] * images_.shape()[2];
}

std::filesystem::path findMnistFile(const std::filesystem::path &dir, Split split, bool labels) {
  std::vector<std::string> names = candidateNames(split, labels);
  for (const std::string &name : names) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(dir / name, ec))
      return dir / name;
  }
  throw Error(ErrorKind::Io,
              fmt::format("no MNIST {} {} file (looked for {}); pass an MNIST-format directory "
                          "or run scripts/setup to prepare the embedded sample",
                          split == Split::Train ? "training" : "test", labels ? "labels" : "images",
                          fmt::join(names, ", ")),
              dir.string());
}

MnistDataset MnistDataset::load(const std::filesystem::path &dir, Split split) {
  std::filesystem::path imagesPath = findMnistFile(dir, split, false);
  std::filesystem::path labelsPath = findMnistFile(dir, split, true);
  ir::HostTensor images = readIdx(imagesPath);
  if (images.dtype() != ir::DType::U8 || images.shape().rank() != 3)
    throw Error(
        ErrorKind::Format,
        fmt::format("MNIST images must be u8 of rank 3, the file holds {}", images.type().str()),
        imagesPath.string());
  ir::HostTensor labels = readIdx(labelsPath);
  if (labels.shape().rank() != 1 || ir::isFloat(labels.dtype()))
    throw Error(ErrorKind::Format,
                fmt::format("MNIST labels must be integers of rank 1, the file holds {}",
                            labels.type().str()),
                labelsPath.string());
  if (labels.shape()[0] != images.shape()[0])
    throw Error(ErrorKind::Format,
                fmt::format("{} holds {} labels but {} holds {} images", labelsPath.string(),
                            labels.shape()[0], imagesPath.string(), images.shape()[0]),
                labelsPath.string());
  return MnistDataset(std::move(images), digitLabels(labels, labelsPath.string()));
}

std::filesystem::path defaultMnistDir() {
  if (const char *env = std::getenv("KILN_DATA_DIR"); env && *env)
    return env;
  std::filesystem::path lib = libraryDir();
  if (lib.empty())
    return "mnist-sample"; // load() then names the missing files
  // Relative paths from the library's folder, set by CMake for both layouts.
  std::filesystem::path installed = (lib / KILN_INSTALLED_SAMPLE_FROM_LIBDIR).lexically_normal();
  std::filesystem::path built = (lib / KILN_BUILD_SAMPLE_FROM_LIBDIR).lexically_normal();
  std::error_code ec;
  if (std::filesystem::is_directory(installed, ec))
    return installed;
  return built;
}

} // namespace kiln::data
