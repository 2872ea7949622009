//===- Dot.h - Graphviz export ----------------------------------*- C++ -*-===//
#pragma once

#include "kiln/ir/Function.h"

#include <string>

namespace kiln::ir {

/// A Graphviz digraph: parameters as input boxes, nodes labelled with their
/// op and result type, edges along dataflow, results marked.
std::string toDot(const Function &f);
/// All functions of the module, each as a cluster.
std::string toDot(const Module &m);

} // namespace kiln::ir
