// SymbolTable: interns exchange symbols ("BTCUSDT", or "btcusdt" from a stream
// name) to small dense ids, so per-symbol state lives in arrays indexed by id.
// Fixed capacity, open addressing, names stored inline: lookups and inserts
// never allocate. Matching is case-insensitive; names are kept upper case.
//
// Threading contract: one thread (the feed) may call intern(); others may
// read name(id) for ids they received through a ring (the id is published
// after its name is written) or after that thread has been joined.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tickpath::infra {

using SymbolId = std::uint16_t;
inline constexpr SymbolId kNoSymbol = 0xFFFF;

class SymbolTable {
 public:
  static constexpr std::size_t kMaxSymbols = 1024;
  static constexpr std::size_t kMaxNameLen = 23;

  // The id of `name`, adding it when new and the table is not frozen.
  // kNoSymbol when the name is empty, too long, not alphanumeric, the table is
  // full, or it is frozen and the name is unknown.
  [[nodiscard]] SymbolId intern(std::string_view name) noexcept;
  [[nodiscard]] SymbolId find(std::string_view name) const noexcept;

  // After freeze() only known names resolve (the engine's --symbols list).
  void freeze() noexcept { frozen_ = true; }
  [[nodiscard]] bool frozen() const noexcept { return frozen_; }

  [[nodiscard]] std::string_view name(SymbolId id) const noexcept {
    return id < count_ ? std::string_view(names_[id].data(), lens_[id]) : std::string_view{};
  }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }

 private:
  static constexpr std::size_t kSlots = kMaxSymbols * 2;  // load factor <= 0.5
  static bool normalise(std::string_view in, std::array<char, kMaxNameLen + 1>& out, std::size_t& len,
                        std::uint64_t& hash) noexcept;
  [[nodiscard]] std::size_t probe(const std::array<char, kMaxNameLen + 1>& key, std::size_t len,
                                  std::uint64_t hash) const noexcept;

  std::array<std::array<char, kMaxNameLen + 1>, kMaxSymbols> names_{};
  std::array<std::uint8_t, kMaxSymbols> lens_{};
  std::array<SymbolId, kSlots> slots_ = [] {
    std::array<SymbolId, kSlots> s{};
    s.fill(kNoSymbol);
    return s;
  }();
  std::size_t count_ = 0;
  bool frozen_ = false;
};

}  // namespace tickpath::infra
