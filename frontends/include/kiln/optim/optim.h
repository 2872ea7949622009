//===- optim.h - Optimizers -------------------------------------*- C++ -*-===//
#pragma once

#include "kiln/optim/Adam.h"
#include "kiln/optim/Optimizer.h"
#include "kiln/optim/SGD.h"
