// Signal: what the strategy thread hands the io thread for each policy
// decision. Fixed size, trivially copyable, one cache line; carries the
// stage stamps so the io thread can report the whole path.
#pragma once

#include <cstdint>
#include <type_traits>

#include "tickpath/infra/symbol_table.hpp"

namespace tickpath::infra {

enum class SignalAction : std::uint8_t { hold = 0, buy = 1, sell = 2 };
enum class SignalReason : std::uint8_t { policy = 0, warming_up, non_finite_input, low_confidence, cooldown };

constexpr const char* to_string(SignalAction a) noexcept {
  return a == SignalAction::buy ? "BUY" : a == SignalAction::sell ? "SELL" : "HOLD";
}
constexpr const char* to_string(SignalReason r) noexcept {
  switch (r) {
    case SignalReason::policy: return "policy";
    case SignalReason::warming_up: return "warming_up";
    case SignalReason::non_finite_input: return "non_finite_input";
    case SignalReason::low_confidence: return "low_confidence";
    case SignalReason::cooldown: return "cooldown";
  }
  return "?";
}

struct alignas(64) Signal {
  SymbolId symbol = kNoSymbol;
  SignalAction action = SignalAction::hold;
  SignalReason reason = SignalReason::policy;
  float confidence = 0.0f;  // softmax probability of the action
  float value = 0.0f;       // the value head's estimate
  std::int8_t position = 0;  // the paper account after acting on it: -1 short, 0 flat, 1 long
  double price = 0.0;       // reference price: the close the observation was built at
  std::int64_t event_time_ms = 0;
  std::uint64_t rx_tick = 0, features_tick = 0, policy_tick = 0;
  double equity = 0.0;  // the paper account's equity at `price` after acting on it
};
static_assert(std::is_trivially_copyable_v<Signal>);
static_assert(sizeof(Signal) == 64);

}  // namespace tickpath::infra
