//===- kiln.h - The public C++ API of kiln ----------------------*- C++ -*-===//
//
// One include for programs written against kiln: tensors, autograd, random
// numbers, and the errors they throw.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "kiln/Autograd.h"
#include "kiln/Compile.h"
#include "kiln/Random.h"
#include "kiln/Step.h"
#include "kiln/Tensor.h"
#include "kiln/ir/Error.h"
