// FrameSet: Binance frames held in one padded buffer, ready to be parsed in
// place. It is what replay reads from a file and what the synthetic feed
// renders ahead of time, so the engine's feed thread only ever walks memory.
//
// Files it understands: JSON Lines (one frame per line, combined or raw),
// pretty-printed JSON documents, and the recorder format
// "<epoch s>: <frame>" / "<url> -> <epoch s>: <REST body>" with its
// "<url> <-> <epoch s>" connection line (kept as metadata, not a frame).
// A line that is none of these is still a frame: the parser rejects it and
// the reject is counted, so nothing in a file disappears unseen.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tickpath::feed {

struct FrameRef {
  std::uint64_t offset = 0;   // into FrameSet::data()
  std::uint32_t len = 0;
  std::uint32_t line = 0;     // 1-based line the frame starts on (0 for generated frames)
  std::int64_t recv_time_ns = -1;  // the recorder's receive time, when the file has one
  std::string_view symbol_hint;    // e.g. "DOTUSDT" from a REST URL's symbol=; points into data()
};

class FrameSet {
 public:
  FrameSet() = default;

  // Loads and splits a file. On failure returns false and sets `error` to one line.
  bool load_file(const std::string& path, std::string& error);
  // Loads every file under `dir` (a journal written by `tickpath run
  // --record`), frames ordered by receive time; ties keep each file's order.
  bool load_dir(const std::string& dir, std::string& error);
  // Splits text already in memory (copied, padded).
  void load_text(std::string_view text);

  // Appends one frame (for generators); call finish() when done.
  void append(std::string_view frame);
  void finish();

  [[nodiscard]] const char* data() const noexcept { return buf_.data(); }
  [[nodiscard]] const std::vector<FrameRef>& frames() const noexcept { return frames_; }
  [[nodiscard]] std::size_t size() const noexcept { return frames_.size(); }
  [[nodiscard]] std::string_view frame(std::size_t i) const noexcept {
    return {buf_.data() + frames_[i].offset, frames_[i].len};
  }
  [[nodiscard]] std::size_t metadata_lines() const noexcept { return metadata_lines_; }
  [[nodiscard]] std::size_t bytes() const noexcept { return text_len_; }

 private:
  void split();
  std::vector<char> buf_;  // text + kPadding zero bytes
  std::size_t text_len_ = 0;
  std::vector<FrameRef> frames_;
  std::size_t metadata_lines_ = 0;
};

}  // namespace tickpath::feed
