#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tickpath/feed/frame_set.hpp"

using tickpath::feed::FrameSet;

TEST(FrameSet_Split, JsonLinesOneFramePerLine) {
  FrameSet fs;
  fs.load_text("{\"a\":1}\n\n{\"b\":[1,{\"c\":\"}\"}]}\r\n{\"d\":2}");
  ASSERT_EQ(fs.size(), 3U);
  EXPECT_EQ(fs.frame(0), "{\"a\":1}");
  EXPECT_EQ(fs.frame(1), "{\"b\":[1,{\"c\":\"}\"}]}");
  EXPECT_EQ(fs.frame(2), "{\"d\":2}");
  EXPECT_EQ(fs.frames()[2].line, 4U);
}

TEST(FrameSet_Split, TruncatedLineDoesNotSwallowTheNext) {
  FrameSet fs;
  fs.load_text("{\"a\":1}\n{\"b\":[1,2\n{\"c\":3}\n");
  ASSERT_EQ(fs.size(), 3U);
  EXPECT_EQ(fs.frame(1), "{\"b\":[1,2");
  EXPECT_EQ(fs.frame(2), "{\"c\":3}");
}

TEST(FrameSet_Split, PrettyPrintedDocuments) {
  FrameSet fs;
  fs.load_text("{\n  \"a\": {\n    \"b\": \"x{\"\n  }\n}\n{\n \"c\": 1\n}\n");
  ASSERT_EQ(fs.size(), 2U);
  EXPECT_EQ(fs.frames()[1].line, 6U);
  EXPECT_EQ(fs.frame(1), "{\n \"c\": 1\n}");
}

TEST(FrameSet_Split, RecorderPrefixesAndGarbage) {
  FrameSet fs;
  fs.load_text(
      "wss://example/stream?streams=a@trade <-> 1617566590.378895\n"
      "1617566591.326123: {\"x\":1}\n"
      "https://host/api/v1/depth?symbol=DOTUSDT&limit=1000 -> 1617566592.5: {\"lastUpdateId\":1}\n"
      "this is not json\n");
  EXPECT_EQ(fs.metadata_lines(), 1U);
  ASSERT_EQ(fs.size(), 3U);
  EXPECT_EQ(fs.frame(0), "{\"x\":1}");
  EXPECT_EQ(fs.frames()[0].recv_time_ns, 1617566591326123000LL);
  EXPECT_EQ(fs.frames()[1].symbol_hint, "DOTUSDT");
  EXPECT_EQ(fs.frames()[1].recv_time_ns, 1617566592500000000LL);
  EXPECT_EQ(fs.frame(2), "this is not json");  // kept, so the parser rejects and counts it
}

TEST(FrameSet_Append, GeneratedFramesArePadded) {
  FrameSet fs;
  fs.append("{\"a\":1}");
  fs.append("{\"b\":2}");
  fs.finish();
  ASSERT_EQ(fs.size(), 2U);
  EXPECT_EQ(fs.frame(1), "{\"b\":2}");
  // kPadding readable bytes after the last frame
  EXPECT_GE(fs.bytes(), fs.frames()[1].offset + fs.frames()[1].len);
}

namespace {

TEST(FrameSet_Dir, JournalFilesMergeByReceiveTimeKeepingFileOrderOnTies) {
  char tmpl[] = "/tmp/tickpath-frames-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::filesystem::create_directories(dir + "/S=A/date=2024-01-01");
  std::filesystem::create_directories(dir + "/S=B/date=2024-01-01");
  {
    std::ofstream a(dir + "/S=A/date=2024-01-01/frames-1.txt");
    a << "1.000000001: {\"a\":1}\n1.000000003: {\"a\":2}\n1.000000003: {\"a\":3}\n";
    std::ofstream b(dir + "/S=B/date=2024-01-01/frames-1.txt");
    b << "1.000000002: {\"b\":1}\nrest:/api/v3/depth?symbol=B -> 1.000000003: {\"b\":2}\n0.5: {\"b\":0}\n";
  }
  tickpath::feed::FrameSet fs;
  std::string error;
  ASSERT_TRUE(fs.load_dir(dir, error)) << error;
  std::vector<std::string> got;
  for (std::size_t i = 0; i < fs.size(); ++i) got.emplace_back(fs.frame(i));
  const std::vector<std::string> want{R"({"b":0})", R"({"a":1})", R"({"b":1})", R"({"a":2})", R"({"a":3})", R"({"b":2})"};
  EXPECT_EQ(got, want);
  EXPECT_EQ(fs.frames()[5].symbol_hint, "B");
  EXPECT_EQ(fs.frames()[1].recv_time_ns, 1'000'000'001);
  EXPECT_FALSE(fs.load_dir(dir + "/nope", error));
  std::filesystem::remove_all(dir);
}

}  // namespace
