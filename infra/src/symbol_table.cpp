#include "tickpath/infra/symbol_table.hpp"

#include <cstring>

namespace tickpath::infra {

bool SymbolTable::normalise(std::string_view in, std::array<char, kMaxNameLen + 1>& out, std::size_t& len,
                            std::uint64_t& hash) noexcept {
  if (in.empty() || in.size() > kMaxNameLen) return false;
  hash = 1469598103934665603ULL;  // FNV-1a
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
    out[i] = c;
    hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  out[in.size()] = '\0';
  len = in.size();
  return true;
}

std::size_t SymbolTable::probe(const std::array<char, kMaxNameLen + 1>& key, std::size_t len,
                               std::uint64_t hash) const noexcept {
  std::size_t i = static_cast<std::size_t>(hash) & (kSlots - 1);
  while (slots_[i] != kNoSymbol) {
    const SymbolId id = slots_[i];
    if (lens_[id] == len && std::memcmp(names_[id].data(), key.data(), len) == 0) return i;
    i = (i + 1) & (kSlots - 1);
  }
  return i;
}

SymbolId SymbolTable::find(std::string_view name) const noexcept {
  std::array<char, kMaxNameLen + 1> key;
  std::size_t len = 0;
  std::uint64_t hash = 0;
  if (!normalise(name, key, len, hash)) return kNoSymbol;
  return slots_[probe(key, len, hash)];
}

SymbolId SymbolTable::intern(std::string_view name) noexcept {
  std::array<char, kMaxNameLen + 1> key;
  std::size_t len = 0;
  std::uint64_t hash = 0;
  if (!normalise(name, key, len, hash)) return kNoSymbol;
  const std::size_t slot = probe(key, len, hash);
  if (slots_[slot] != kNoSymbol) return slots_[slot];
  if (frozen_ || count_ >= kMaxSymbols) return kNoSymbol;
  const auto id = static_cast<SymbolId>(count_);
  names_[id] = key;
  lens_[id] = static_cast<std::uint8_t>(len);
  slots_[slot] = id;
  ++count_;
  return id;
}

}  // namespace tickpath::infra
