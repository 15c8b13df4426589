#include "tickpath/feed/ws_client.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstring>

namespace tickpath::feed {

const char* to_string(WsState s) noexcept {
  switch (s) {
    case WsState::connecting: return "connecting";
    case WsState::open: return "open";
    case WsState::closing: return "closing";
    case WsState::closed: return "closed";
    case WsState::failed: return "failed";
  }
  return "?";
}

WsClient::WsClient(std::unique_ptr<Transport> transport, const WsClientOptions& opts)
    : t_(std::move(transport)),
      opts_(opts),
      dec_(opts.max_message_bytes),
      // room for one maximal frame (header 14) plus a read chunk, and the parser's padding
      mem_(opts.max_message_bytes + 14 + opts.read_chunk_bytes + kPadding, opts.huge_pages),
      buf_(mem_.data()),
      cap_(opts.max_message_bytes + 14 + opts.read_chunk_bytes),
      tx_cap_(4096 + 14) {
  tx_ = std::make_unique<char[]>(tx_cap_);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&mask_state_), sizeof mask_state_) != 1)
    mask_state_ = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) | 1U;
  if (mask_state_ == 0) mask_state_ = 0x9E3779B97F4A7C15ULL;
}

bool WsClient::handshake(const std::string& host, std::uint16_t port, const std::string& target, std::string& error,
                         const infra::TscClock* clock) {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return error = "cannot draw a WebSocket key", false;
  unsigned char b64[32];
  const int klen = EVP_EncodeBlock(b64, raw, sizeof raw);
  const std::string key(reinterpret_cast<char*>(b64), static_cast<std::size_t>(klen));
  const bool default_port = (port == 443 && t_->kind()[1] == 'l') || (port == 80 && t_->kind()[1] == 'c');
  const std::string req = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}"
      "\r\nSec-WebSocket-Version: 13\r\nUser-Agent: tickpath/0.1\r\n\r\n",
      target, host, default_port ? std::string() : fmt::format(":{}", port), key);
  if (t_->write_all(req.data(), req.size(), opts_.handshake_timeout_ms).status != IoStatus::ok)
    return error = std::string("cannot send the WebSocket upgrade request: ") + t_->last_error(), false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts_.handshake_timeout_ms);
  std::size_t end = std::string_view::npos;
  while (end == std::string_view::npos) {
    if (tail_ == cap_) return error = "WebSocket handshake reply too large", false;
    const IoResult r = t_->read_some(buf_ + tail_, cap_ - tail_);
    if (r.status == IoStatus::ok) {
      if (clock != nullptr) rx_tick_ = clock->now();
      tail_ += r.bytes;
      end = std::string_view(buf_, tail_).find("\r\n\r\n");
      continue;
    }
    if (r.status != IoStatus::would_block)
      return error = std::string("WebSocket handshake failed: ") + t_->last_error(), false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return error = "WebSocket handshake timed out", false;
    (void)t_->wait_readable(static_cast<int>(left.count()));
  }
  const std::string why = ws_check_handshake_response(std::string_view(buf_, end + 4), key);
  if (!why.empty()) return error = why, false;
  head_ = end + 4;  // frames that came with the reply stay in the buffer
  if (head_ == tail_) head_ = tail_ = 0;
  state_ = WsState::open;
  return true;
}

void WsClient::fill(const infra::TscClock& clock) noexcept {
  // Keep room for a large read: move a partial frame to the front when the
  // tail is short of a chunk (a frame of up to max bytes always fits).
  if (head_ != 0 && cap_ - tail_ < opts_.read_chunk_bytes) {
    std::memmove(buf_, buf_ + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }
  const IoResult r = t_->read_some(buf_ + tail_, cap_ - tail_);
  if (r.status == IoStatus::ok) {
    rx_tick_ = clock.now();  // the one receive stamp for every message these bytes complete
    tail_ += r.bytes;
    bump(counters_.reads);
    bump(counters_.bytes, r.bytes);
    return;
  }
  if (r.status == IoStatus::would_block) return;
  if (state_ == WsState::closing && r.status == IoStatus::closed) {
    state_ = WsState::closed;
    return;
  }
  fail(t_->last_error());
}

bool WsClient::on_control(const WsEvent& ev, const infra::TscClock& clock) noexcept {
  switch (ev.kind) {
    case WsEventKind::ping:
      bump(counters_.pings);
      std::memcpy(pending_pong_, ev.payload.data(), ev.payload.size());
      pending_pong_len_ = ev.payload.size();
      pong_pending_ = true;
      flush_pong(clock);
      return true;
    case WsEventKind::pong: bump(counters_.pongs_received); return true;
    case WsEventKind::close: {
      close_code_ = ev.close_code;
      const std::size_t n = std::min(ev.payload.size(), sizeof close_reason_ - 1);
      std::memcpy(close_reason_, ev.payload.data(), n);
      close_reason_[n] = '\0';
      reason_ = close_reason_[0] != '\0' ? close_reason_ : "closed by the server";
      if (state_ == WsState::open) {  // answer with the same code, as RFC 6455 5.5.1 asks
        char body[2] = {static_cast<char>(ev.close_code >> 8), static_cast<char>(ev.close_code & 0xFF)};
        (void)send_frame(WsOpcode::close, ev.close_code == 1005 ? std::string_view{} : std::string_view(body, 2));
      }
      state_ = WsState::closed;
      t_->close();
      return false;
    }
    case WsEventKind::error: fail(ev.reason); return false;
    default: return true;
  }
}

void WsClient::flush_pong(const infra::TscClock& clock) noexcept {
  const std::uint64_t now = clock.now();
  if (now - budget_window_tick_ >= clock.ns_to_ticks(1e9)) {
    budget_window_tick_ = now;
    sent_in_window_ = 0;
  }
  if (sent_in_window_ >= static_cast<int>(opts_.max_sent_per_s)) {
    bump(counters_.control_deferred);
    return;  // retried on the next poll, when the window has moved on
  }
  if (send_frame(WsOpcode::pong, std::string_view(pending_pong_, pending_pong_len_))) bump(counters_.pongs_sent);
  pong_pending_ = false;
}

bool WsClient::send_frame(WsOpcode op, std::string_view payload) noexcept {
  if (payload.size() + 14 > tx_cap_) return false;
  mask_state_ ^= mask_state_ << 13;  // xorshift64: the RFC asks for unpredictable masks, not secret ones
  mask_state_ ^= mask_state_ >> 7;
  mask_state_ ^= mask_state_ << 17;
  const std::size_t n = ws_encode_client_frame(op, payload, static_cast<std::uint32_t>(mask_state_ >> 16), tx_.get());
  ++sent_in_window_;
  if (t_->write_all(tx_.get(), n).status != IoStatus::ok) {
    fail(t_->last_error());
    return false;
  }
  return true;
}

bool WsClient::send_text(std::string_view text) noexcept {
  return state_ == WsState::open && send_frame(WsOpcode::text, text);
}

void WsClient::close(std::uint16_t code) noexcept {
  if (state_ != WsState::open) return;
  const char body[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  state_ = WsState::closing;
  (void)send_frame(WsOpcode::close, std::string_view(body, 2));
}

void WsClient::fail(const char* why) noexcept {
  if (state_ == WsState::failed || state_ == WsState::closed) return;
  state_ = WsState::failed;
  reason_ = why;
  t_->close();
}

}  // namespace tickpath::feed
