//===- Attribute.cpp ------------------------------------------------------===//
#include "kiln/ir/Attribute.h"
#include "kiln/ir/Error.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace kiln::ir {

AttrKind attrKind(const Attr &a) { return AttrKind(a.index()); }

std::string_view attrKindName(AttrKind k) {
  switch (k) {
  case AttrKind::Int: return "integer";
  case AttrKind::Float: return "float";
  case AttrKind::Bool: return "bool";
  case AttrKind::Ints: return "integer list";
  case AttrKind::Type: return "dtype";
  case AttrKind::Dense: return "dense tensor";
  case AttrKind::Fusion: return "fusion kind";
  }
  return "?";
}

namespace {
constexpr std::pair<FusionKind, std::string_view> kFusionKinds[] = {
    {FusionKind::Loop, "loop"},
    {FusionKind::Reduction, "reduction"},
    {FusionKind::Matmul, "matmul"},
    {FusionKind::SoftmaxCrossEntropy, "softmax_xent"},
};
} // namespace

std::string_view fusionKindName(FusionKind k) { return kFusionKinds[size_t(k)].second; }

std::optional<FusionKind> parseFusionKind(std::string_view s) {
  for (const auto &[kind, name] : kFusionKinds)
    if (name == s)
      return kind;
  return std::nullopt;
}

const AttrList::Entries AttrList::kNoEntries;

AttrList::AttrList(std::initializer_list<std::pair<std::string, Attr>> init) {
  if (init.size() == 0)
    return;
  entries_ = std::make_shared<Entries>();
  entries_->reserve(init.size());
  for (const auto &[name, value] : init)
    set(name, value);
}

void AttrList::set(std::string name, Attr value) {
  if (!entries_)
    entries_ = std::make_shared<Entries>();
  else if (entries_.use_count() > 1) // a copy reads these: change our own
    entries_ = std::make_shared<Entries>(*entries_);
  Entries &e = *entries_;
  auto it = std::lower_bound(e.begin(), e.end(), name,
                             [](const auto &x, const std::string &n) { return x.first < n; });
  if (it != e.end() && it->first == name)
    it->second = std::move(value);
  else
    e.insert(it, {std::move(name), std::move(value)});
}

const Attr *AttrList::find(std::string_view name) const {
  for (const auto &e : entries())
    if (e.first == name)
      return &e.second;
  return nullptr;
}

template <class T> static const T &getAs(const AttrList &l, std::string_view name) {
  const Attr *a = l.find(name);
  if (!a)
    throw Error(ErrorKind::Verify, fmt::format("missing attribute '{}'", name));
  if (const T *v = std::get_if<T>(a))
    return *v;
  throw Error(ErrorKind::Verify, fmt::format("attribute '{}' has the wrong kind ({})", name,
                                             attrKindName(attrKind(*a))));
}

int64_t AttrList::getInt(std::string_view name) const { return getAs<int64_t>(*this, name); }
bool AttrList::getBool(std::string_view name) const { return getAs<bool>(*this, name); }
FusionKind AttrList::getFusionKind(std::string_view name) const {
  return getAs<FusionKind>(*this, name);
}
const IntList &AttrList::getInts(std::string_view name) const { return getAs<IntList>(*this, name); }
const HostTensor &AttrList::getDense(std::string_view name) const {
  return getAs<HostTensor>(*this, name);
}
double AttrList::getFloat(std::string_view name) const {
  const Attr *a = find(name);
  if (a)
    if (const int64_t *i = std::get_if<int64_t>(a))
      return double(*i);
  return getAs<double>(*this, name);
}

static bool sameAttr(const Attr &a, const Attr &b) {
  if (a.index() != b.index())
    return false;
  return std::visit(
      [&](const auto &x) {
        using T = std::decay_t<decltype(x)>;
        const T &y = std::get<T>(b);
        if constexpr (std::is_same_v<T, HostTensor>)
          return x.identical(y);
        else if constexpr (std::is_same_v<T, double>) // bitwise: NaN == NaN for CSE
          return std::memcmp(&x, &y, sizeof(double)) == 0;
        else
          return x == y;
      },
      a);
}

bool AttrList::operator==(const AttrList &o) const {
  if (entries_ == o.entries_) // copies of one list (recorded ops share theirs)
    return true;
  const Entries &a = entries(), &b = o.entries();
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || !sameAttr(a[i].second, b[i].second))
      return false;
  return true;
}

} // namespace kiln::ir
