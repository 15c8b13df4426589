#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>

#include "support/alloc_counter.hpp"
#include "tickpath/infra/symbol_table.hpp"

using tickpath::infra::kNoSymbol;
using tickpath::infra::SymbolTable;

TEST(SymbolTable_Intern, CaseInsensitiveDenseIds) {
  auto t = std::make_unique<SymbolTable>();
  EXPECT_EQ(t->intern("BTCUSDT"), 0);
  EXPECT_EQ(t->intern("btcusdt"), 0);
  EXPECT_EQ(t->intern("ETHUSDT"), 1);
  EXPECT_EQ(t->name(0), "BTCUSDT");
  EXPECT_EQ(t->find("EthUsdt"), 1);
  EXPECT_EQ(t->find("DOTUSDT"), kNoSymbol);
  EXPECT_EQ(t->intern(""), kNoSymbol);
  EXPECT_EQ(t->intern("BTC USDT"), kNoSymbol);
  EXPECT_EQ(t->intern(std::string(24, 'A')), kNoSymbol);
  t->freeze();
  EXPECT_EQ(t->intern("DOTUSDT"), kNoSymbol);
  EXPECT_EQ(t->intern("btcusdt"), 0);
}

TEST(SymbolTable_RandomWalk, MatchesUnorderedMapAndNeverAllocates) {
  auto t = std::make_unique<SymbolTable>();
  std::unordered_map<std::string, std::uint16_t> ref;
  std::vector<std::string> names;
  std::mt19937 rng(5);
  for (int i = 0; i < 1500; ++i) {
    std::string s;
    const int len = 3 + static_cast<int>(rng() % 12);
    for (int j = 0; j < len; ++j) s += static_cast<char>('A' + rng() % 26);
    names.push_back(s);
  }
  using tickpath::test::count_allocations_on_this_thread;
  const auto before = tickpath::test::counted_allocations();
  count_allocations_on_this_thread(true);
  for (int step = 0; step < 20000; ++step) {
    const std::string& s = names[rng() % names.size()];
    const auto id = t->intern(s);
    auto it = ref.find(s);
    if (it != ref.end()) {
      ASSERT_EQ(id, it->second);
    } else if (ref.size() < SymbolTable::kMaxSymbols) {
      ASSERT_EQ(id, ref.size());
      count_allocations_on_this_thread(false);  // the reference map allocates; the table must not
      ref.emplace(s, id);
      count_allocations_on_this_thread(true);
    } else {
      ASSERT_EQ(id, kNoSymbol);  // full
    }
  }
  count_allocations_on_this_thread(false);
  EXPECT_EQ(tickpath::test::counted_allocations() - before, 0U);
  EXPECT_EQ(t->size(), std::min<std::size_t>(ref.size(), SymbolTable::kMaxSymbols));
}
