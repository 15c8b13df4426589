// Renders a parsed Message (or a reject) as one line of JSON for
// `tickpath parse`: every Binance field under its own key, integers as
// integers, booleans as booleans, decimals as strings with exactly 8
// decimals rendered from the int64 form, so anyone can diff our reading of a
// frame against the frame itself. Off the hot path (it builds a string).
#pragma once

#include <string>

#include "tickpath/feed/binance_parser.hpp"

namespace tickpath::feed {

// Appends one JSON object (no newline) to `out`.
void append_message_json(const Message& m, std::string_view symbol, std::string& out);
void append_reject_json(RejectReason r, const Message& m, std::string& out);

}  // namespace tickpath::feed
