//===- nn.h - Layers, models and losses -------------------------*- C++ -*-===//
#pragma once

#include "kiln/nn/Activation.h"
#include "kiln/nn/Linear.h"
#include "kiln/nn/Loss.h"
#include "kiln/nn/Module.h"
#include "kiln/nn/Sequential.h"
