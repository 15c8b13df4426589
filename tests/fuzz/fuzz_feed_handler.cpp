// Fuzz target: the feed handler with order books, de-duplication and held
// diffs, as a live feed runs it. The input is a sequence of frames separated
// by newlines; a frame that starts with '@' is a REST depth snapshot body
// for the symbol named by the '@' line before it (the way the live feed
// hands snapshots over). After every frame each book must still be a book:
// bids strictly falling, asks strictly rising, no empty level, no more
// levels than its capacity. (Crossed books are not checked: a real book may
// cross for a moment between a diff and the next.)
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "tickpath/feed/feed_handler.hpp"

using namespace tickpath::feed;

namespace {
constexpr std::uint32_t kLevels = 64;

void check_side(const OrderBookSide& s, bool bids) {
  if (s.size() > kLevels) {
    std::fprintf(stderr, "%s hold %u levels, capacity %u\n", bids ? "bids" : "asks", s.size(), kLevels);
    std::abort();
  }
  for (std::uint32_t i = 0; i < s.size(); ++i) {
    if (s[i].qty_e8 <= 0) {
      std::fprintf(stderr, "book level %u has quantity %lld\n", i, static_cast<long long>(s[i].qty_e8));
      std::abort();
    }
    if (i > 0 && (bids ? s[i].price_e8 >= s[i - 1].price_e8 : s[i].price_e8 <= s[i - 1].price_e8)) {
      std::fprintf(stderr, "%s out of order at level %u\n", bids ? "bids" : "asks", i);
      std::abort();
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tickpath::infra::SymbolTable symbols;
  for (const char* s : {"BTCUSDT", "ETHUSDT", "DOTUSDT"}) (void)symbols.intern(s);
  symbols.freeze();
  FeedHandler h(symbols);
  h.enable_books({true, true, true}, kLevels, 4096);
  h.enable_dedup((size & 1) != 0);
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<char> buf;
  std::string_view hint = "BTCUSDT";
  std::size_t pos = 0;
  while (pos <= in.size()) {
    std::size_t end = in.find('\n', pos);
    if (end == std::string_view::npos) end = in.size();
    std::string_view frame = in.substr(pos, end - pos);
    pos = end + 1;
    if (!frame.empty() && frame.front() == '@') {  // "@SYMBOL": the next frame is that symbol's snapshot
      hint = frame.substr(1);
      continue;
    }
    buf.assign(frame.begin(), frame.end());
    buf.resize(frame.size() + kPadding, '}');
    Event ev;
    (void)h.on_frame(buf.data(), frame.size(), hint, ev);
    for (tickpath::infra::SymbolId id = 0; id < 3; ++id)
      if (const BookSync* b = h.book(id)) {
        check_side(b->bids(), true);
        check_side(b->asks(), false);
      }
  }
  return 0;
}
