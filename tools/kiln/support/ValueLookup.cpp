//===- ValueLookup.cpp ----------------------------------------------------===//
#include "support/ValueLookup.h"

#include "kiln/ir/ValueNames.h"
#include "kiln/ir/Error.h"

#include <fmt/format.h>

namespace kiln::tool {

ir::ValueId findValue(const ir::Function &f, std::string_view name) {
  if (!name.empty() && name.front() == '%')
    name.remove_prefix(1);
  std::vector<std::string> names = ir::text::valueNames(f);
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name)
      return ir::ValueId{int32_t(i)};
  std::string params;
  for (ir::ValueId p : f.params())
    params += fmt::format("{}%{}", params.empty() ? "" : ", ", names[size_t(p.id)]);
  throw Error(ErrorKind::Usage, fmt::format("@{} has no value %{} (parameters: {})", f.name(),
                                            name, params.empty() ? "none" : params));
}

std::vector<ir::ValueId> findValues(const ir::Function &f, std::string_view list) {
  std::vector<ir::ValueId> values;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = std::min(list.find(',', start), list.size());
    std::string_view item = list.substr(start, end - start);
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (!item.empty())
      values.push_back(findValue(f, item));
    start = end + 1;
  }
  if (values.empty())
    throw Error(ErrorKind::Usage, "no values given");
  return values;
}

} // namespace kiln::tool
