// The binary form of the NATS messages (--nats-binary): fixed-size
// little-endian records, no padding between fields, so a consumer in any
// language reads them with one struct or a few fixed offsets. The symbol is
// the subject's last token. Every record starts with the same 8 bytes:
//
//   0  u8   version (1)
//   1  u8   kind: 1 signal, 2 bar, 3 portfolio, 4 trade
//   2  u16  shard index
//   4  u16  shard count (0: not sharded)
//   6  u8   a (per kind)
//   7  u8   b (per kind)
//
// then, by kind (offsets from the record's start):
//
//   signal    48 B  a action (0 HOLD, 1 BUY, 2 SELL), b reason (0 policy,
//                   1 warming_up, 2 non_finite_input, 3 low_confidence,
//                   4 cooldown); 8 i64 event time ms, 16 f32 confidence,
//                   20 f32 value, 24 f64 price, 32 f64 equity, 40 i8
//                   position (-1, 0, 1), 41-47 zero
//   bar       80 B  8 i64 open time ms, 16 f64 open, 24 high, 32 low,
//                   40 close, 48 volume, 56 sma20, 64 bb_upper, 72 bb_lower
//   portfolio 32 B  a position (i8); 8 i64 event time ms, 16 f64 equity,
//                   24 f64 price
//   trade     40 B  a buyer is maker (0/1), b aggTrade (0/1); 8 i64 trade
//                   time ms, 16 i64 id (t, or a for an aggTrade), 24 f64
//                   price, 32 f64 quantity
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tickpath::engine::natsbin {

static_assert(std::endian::native == std::endian::little, "the records are little-endian; this host writes them as is");

inline constexpr std::uint8_t kVersion = 1;
enum class Kind : std::uint8_t { signal = 1, bar = 2, portfolio = 3, trade = 4 };
inline constexpr std::size_t kSize[5] = {0, 48, 80, 32, 40};

// Builds one record in `out` (cleared first).
class Writer {
 public:
  Writer(std::string& out, Kind kind, std::uint16_t shard_index, std::uint16_t shard_count, std::uint8_t a,
         std::uint8_t b)
      : out_(out) {
    out_.assign(kSize[static_cast<std::size_t>(kind)], '\0');
    out_[0] = static_cast<char>(kVersion);
    out_[1] = static_cast<char>(kind);
    put(2, shard_index);
    put(4, shard_count);
    out_[6] = static_cast<char>(a);
    out_[7] = static_cast<char>(b);
  }
  template <class T>
  Writer& put(std::size_t offset, T v) {
    std::memcpy(out_.data() + offset, &v, sizeof v);
    return *this;
  }

 private:
  std::string& out_;
};

// The record as the JSON form of the same message ("shard" is "all" when
// not sharded); empty when `data` is not a record of this version.
std::string to_json(std::string_view data, std::string_view symbol);

}  // namespace tickpath::engine::natsbin
