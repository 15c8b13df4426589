// Fuzz target: the Binance message parser, differentially. Every input is
// parsed three times: by the engine's parser as it runs live (Binance's
// exact layouts, then the general single forward pass, with simdjson behind
// them for anything they do not take), by the same without the exact
// layouts, and by simdjson On-Demand alone, the authority. The two must agree on accept
// or reject, on the reason and on every field (compared through their JSON
// rendering). The bytes after the frame (the padding simdjson may read) are
// filled with the frame's own bytes, so a parser that looks past the end
// sees plausible JSON there rather than zeros.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tickpath/feed/binance_parser.hpp"
#include "tickpath/feed/message_json.hpp"

using namespace tickpath::feed;

namespace {
std::string render(RejectReason r, const Message& m) {
  std::string out;
  if (r == RejectReason::none) append_message_json(m, m.symbol, out);
  else append_reject_json(r, m, out);
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static BinanceParser live, general, authority;
  static const bool configured = (general.set_exact_path(false), authority.set_fast_path(false), true);
  (void)configured;
  std::vector<char> buf(size + kPadding);
  for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = size == 0 ? '"' : static_cast<char>(data[i % size]);
  Message a, g, b;
  const RejectReason ra = live.parse(buf.data(), size, a);
  const std::string ja = render(ra, a);  // before the second parse: views point into the parser
  const RejectReason rg = general.parse(buf.data(), size, g);
  const std::string jg = render(rg, g);
  const RejectReason rb = authority.parse(buf.data(), size, b);
  const std::string jb = render(rb, b);
  if (ra != rb || ja != jb || rg != rb || jg != jb) {
    std::fprintf(stderr, "the single pass and simdjson disagree\n  live:      %s\n  general:   %s\n  simdjson:  %s\n",
                 ja.c_str(), jg.c_str(), jb.c_str());
    std::abort();
  }
  return 0;
}
