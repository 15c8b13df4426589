// Where the real Binance captures live (../shared/data/binance beside the
// repository) and small helpers to read them.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace tickpath::test {

inline std::string data_dir() { return TICKPATH_DATA_DIR; }

inline std::string data_file(const std::string& rel) {
  const std::string p = data_dir() + "/" + rel;
  if (!std::filesystem::exists(p)) ADD_FAILURE() << "missing test data " << p << " (shared/ must sit beside the repository)";
  return p;
}

inline std::vector<std::string> ws_files() {
  std::vector<std::string> out;
  const std::string dir = data_dir() + "/ws";
  if (!std::filesystem::is_directory(dir)) {
    ADD_FAILURE() << "missing test data directory " << dir;
    return out;
  }
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace tickpath::test
