#include "tickpath/feed/frame_set.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tickpath/feed/binance_parser.hpp"

namespace tickpath::feed {

namespace {

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// End (one past) of the JSON value starting at `p` ('{' or '['), found by
// counting brackets outside strings; `end` when it never closes.
const char* match_value(const char* p, const char* end) noexcept {
  int depth = 0;
  bool in_str = false;
  for (; p < end; ++p) {
    const char c = *p;
    if (in_str) {
      if (c == '\\') ++p;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth == 0) return p + 1;
    }
  }
  return end;
}

// "<epoch seconds>[.<fraction>]" -> ns, exactly (no double rounding);
// -1 when it is not such a number.
std::int64_t parse_epoch_s(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  const auto dot = s.find('.');
  const std::string_view ip = s.substr(0, dot);
  const std::string_view fp = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  std::int64_t sec = 0;
  const auto r = std::from_chars(ip.data(), ip.data() + ip.size(), sec);
  if (ip.empty() || r.ec != std::errc{} || r.ptr != ip.data() + ip.size() || sec < 0 || sec > 9'000'000'000LL) return -1;
  std::int64_t ns = 0;
  for (std::size_t i = 0; i < 9; ++i) {
    const char c = i < fp.size() ? fp[i] : '0';
    if (c < '0' || c > '9') return -1;
    ns = ns * 10 + (c - '0');
  }
  for (std::size_t i = 9; i < fp.size(); ++i)
    if (fp[i] < '0' || fp[i] > '9') return -1;
  return sec * 1'000'000'000LL + ns;
}

}  // namespace

bool FrameSet::load_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  in.seekg(0);
  buf_.assign(size + kPadding, '\0');
  if (size > 0 && !in.read(buf_.data(), static_cast<std::streamsize>(size))) {
    error = "cannot read " + path;
    return false;
  }
  text_len_ = size;
  split();
  return true;
}

bool FrameSet::load_dir(const std::string& dir, std::string& error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> paths;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file()) paths.push_back(it->path());
  if (ec) return error = "cannot read the directory " + dir + ": " + ec.message(), false;
  std::sort(paths.begin(), paths.end());
  std::string text;
  for (const auto& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return error = "cannot open " + path.string(), false;
    text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!text.empty() && text.back() != '\n') text += '\n';
  }
  load_text(text);
  std::stable_sort(frames_.begin(), frames_.end(),
                   [](const FrameRef& a, const FrameRef& b) { return a.recv_time_ns < b.recv_time_ns; });
  return true;
}

void FrameSet::load_text(std::string_view text) {
  buf_.assign(text.size() + kPadding, '\0');
  std::memcpy(buf_.data(), text.data(), text.size());
  text_len_ = text.size();
  split();
}

void FrameSet::append(std::string_view frame) {
  if (buf_.size() >= kPadding && text_len_ + kPadding == buf_.size()) buf_.resize(text_len_);  // drop old padding
  FrameRef r;
  r.offset = buf_.size();
  r.len = static_cast<std::uint32_t>(frame.size());
  buf_.insert(buf_.end(), frame.begin(), frame.end());
  buf_.push_back('\n');
  text_len_ = buf_.size();
  frames_.push_back(r);
}

void FrameSet::finish() { buf_.resize(text_len_ + kPadding, '\0'); }

void FrameSet::split() {
  frames_.clear();
  metadata_lines_ = 0;
  const char* const base = buf_.data();
  const char* const end = base + text_len_;

  // JSON Lines unless the first JSON value spans lines (pretty-printed): in
  // line mode a truncated line cannot swallow the lines after it.
  bool line_mode = true;
  {
    const char* p = base;
    while (p < end && is_space(*p)) ++p;
    if (p < end && (*p == '{' || *p == '[')) {
      const char* v_end = match_value(p, end);
      const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
      line_mode = nl == nullptr || v_end <= static_cast<const char*>(nl);
    }
  }

  const char* p = base;
  std::uint32_t line = 1;
  auto count_lines = [&](const char* from, const char* to) {
    for (const char* q = from; q < to; ++q) line += *q == '\n';
  };
  while (p < end) {
    const char* s = p;
    while (s < end && is_space(*s)) ++s;
    count_lines(p, s);
    if (s >= end) break;
    const char* eol = static_cast<const char*>(std::memchr(s, '\n', static_cast<std::size_t>(end - s)));
    if (eol == nullptr) eol = end;
    FrameRef r;
    r.line = line;
    const char* start = s;
    if (*s != '{' && *s != '[') {
      // A recorder prefix, a connection line, or garbage.
      const std::string_view text(s, static_cast<std::size_t>(eol - s));
      const auto brace = text.find('{');
      const auto colon = text.find(": ");
      if (brace == std::string_view::npos && text.find(" <-> ") != std::string_view::npos) {
        ++metadata_lines_;
        count_lines(s, eol);
        p = eol;
        continue;
      }
      if (brace != std::string_view::npos && colon != std::string_view::npos && colon + 2 == brace) {
        std::string_view prefix = text.substr(0, colon);
        const auto arrow = prefix.find(" -> ");
        if (arrow != std::string_view::npos) {
          const std::string_view url = prefix.substr(0, arrow);
          const auto sym = url.find("symbol=");
          if (sym != std::string_view::npos) {
            std::string_view v = url.substr(sym + 7);
            v = v.substr(0, v.find('&'));
            r.symbol_hint = v;
          }
          prefix = prefix.substr(arrow + 4);
        }
        r.recv_time_ns = parse_epoch_s(prefix);
        if (r.recv_time_ns >= 0 || !r.symbol_hint.empty()) start = s + brace;
      }
    }
    const char* stop;
    if (*start == '{' || *start == '[') {
      stop = line_mode ? eol : match_value(start, end);
    } else {
      stop = eol;  // garbage line: a frame of its own, for the parser to reject
    }
    const char* trim = stop;
    while (trim > start && is_space(trim[-1])) --trim;
    r.offset = static_cast<std::uint64_t>(start - base);
    r.len = static_cast<std::uint32_t>(trim - start);
    frames_.push_back(r);
    count_lines(s, stop);
    p = stop;
  }
}

}  // namespace tickpath::feed
