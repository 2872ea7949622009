//===- SmallListTest.cpp - The inline operand lists of recorded ops -------===//
//
// Recorded ops keep up to three operands inline (SmallList, internal to the
// frontend: a header-only class, included by path). The op table has no op
// of more operands today, so the move to the heap is tested here.
//
//===----------------------------------------------------------------------===//
#include "../../frontends/src/SmallList.h"

#include <gtest/gtest.h>

#include <memory>

using kiln::detail::SmallList;

namespace {

std::vector<int> values(const SmallList<std::shared_ptr<int>, 3> &l) {
  std::vector<int> out;
  for (const auto &p : l)
    out.push_back(p ? *p : -1);
  return out;
}

} // namespace

TEST(SmallList, KeepsItsOrderInlineAndOnTheHeap) {
  SmallList<std::shared_ptr<int>, 3> l;
  for (int i = 0; i < 3; ++i)
    l.push_back(std::make_shared<int>(i));
  EXPECT_EQ(values(l), (std::vector<int>{0, 1, 2}));
  for (int i = 3; i < 10; ++i) // past the inline three
    l.push_back(std::make_shared<int>(i));
  EXPECT_EQ(values(l), (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(*l[7], 7);
}

TEST(SmallList, ClearAndMoveReleaseTheElements) {
  auto shared = std::make_shared<int>(5);
  SmallList<std::shared_ptr<int>, 3> a{shared, shared};
  EXPECT_EQ(shared.use_count(), 3);
  SmallList<std::shared_ptr<int>, 3> b = std::move(a);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(shared.use_count(), 3) << "moved, not copied";
  b.clear();
  EXPECT_EQ(shared.use_count(), 1);
  EXPECT_TRUE(b.empty());

  SmallList<std::shared_ptr<int>, 3> many;
  for (int i = 0; i < 5; ++i)
    many.push_back(shared);
  SmallList<std::shared_ptr<int>, 3> moved;
  moved = std::move(many);
  EXPECT_EQ(many.size(), 0u);
  EXPECT_EQ(values(moved), (std::vector<int>(5, 5)));
  moved = SmallList<std::shared_ptr<int>, 3>{};
  EXPECT_EQ(shared.use_count(), 1);
}

TEST(SmallList, ReserveKeepsTheElements) {
  SmallList<std::shared_ptr<int>, 3> l{std::make_shared<int>(1), std::make_shared<int>(2)};
  l.reserve(8);
  l.push_back(std::make_shared<int>(3));
  l.push_back(std::make_shared<int>(4));
  EXPECT_EQ(values(l), (std::vector<int>{1, 2, 3, 4}));
}

TEST(SmallList, ASpilledListTakesAndCopiesShortOnes) {
  auto one = std::make_shared<int>(1), two = std::make_shared<int>(2);
  SmallList<std::shared_ptr<int>, 3> spilled;
  for (int i = 0; i < 5; ++i)
    spilled.push_back(one);
  spilled = SmallList<std::shared_ptr<int>, 3>{two, one}; // moved in, inline
  EXPECT_EQ(values(spilled), (std::vector<int>{2, 1}));
  SmallList<std::shared_ptr<int>, 3> copy = spilled;
  copy.push_back(two);
  copy.push_back(two); // spills the copy, not the original
  EXPECT_EQ(values(copy), (std::vector<int>{2, 1, 2, 2}));
  EXPECT_EQ(values(spilled), (std::vector<int>{2, 1}));
  spilled = copy; // copied into a list that is not spilled
  EXPECT_EQ(values(spilled), (std::vector<int>{2, 1, 2, 2}));
  copy.clear();
  spilled.clear();
  EXPECT_EQ(one.use_count(), 1);
  EXPECT_EQ(two.use_count(), 1) << "every element released";
}
