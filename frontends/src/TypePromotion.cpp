//===- TypePromotion.cpp - PyTorch's result_type --------------------------===//
#include "TypePromotion.h"

#include "kiln/ir/Error.h"

#include <fmt/format.h>

namespace kiln::detail {

using ir::DType;

namespace {

enum class Category { Bool, Integer, Float };

Category category(DType t) {
  return t == DType::Bool ? Category::Bool
         : ir::isFloat(t) ? Category::Float
                          : Category::Integer;
}

void promoteInto(std::optional<DType> &state, DType t) {
  state = state ? ir::promoteTypes(*state, t) : t;
}

/// The result of a higher-priority group of operands (`higher`) and a
/// lower one: the lower group counts only when its category is higher.
std::optional<DType> combineCategories(std::optional<DType> higher, std::optional<DType> lower) {
  if (!higher)
    return lower;
  if (!lower || category(*lower) <= category(*higher))
    return higher;
  return ir::promoteTypes(*higher, *lower);
}

} // namespace

ResultType &ResultType::operator<<(const Tensor &t) {
  promoteInto(t.dim() == 0 ? zeroDim_ : dimensioned_, t.dtype());
  return *this;
}

ResultType &ResultType::operator<<(const Scalar &s) {
  promoteInto(number_, s.dtype());
  return *this;
}

DType ResultType::dtype() const {
  std::optional<DType> t = combineCategories(dimensioned_, combineCategories(zeroDim_, number_));
  check(t.has_value(), "ResultType: no operands");
  return *t;
}

} // namespace kiln::detail
