// The host doctor on hosts built in a directory: a tuned 4-core box and an
// untuned one with SMT, each problem planted on purpose, then the binary on
// the same images (exit status and JSON).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>

#include "support/run_command.hpp"
#include "tickpath/engine/doctor.hpp"

namespace fs = std::filesystem;
using tickpath::engine::DoctorFinding;
using tickpath::engine::DoctorOptions;
using tickpath::engine::run_doctor;
using Level = DoctorFinding::Level;

namespace {

class FakeHost {
 public:
  explicit FakeHost(const std::string& name) : root_(fs::path(::testing::TempDir()) / name) {
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  ~FakeHost() { fs::remove_all(root_); }
  void write(const std::string& rel, const std::string& text) {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text << "\n";
  }
  std::string root() const { return root_.string(); }

  // Four cores, online, the hot pair 2-3 tuned the way the doctor's fixes say.
  void tuned() {
    write("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 isolcpus=managed_irq,domain,2-3 nohz_full=2-3 rcu_nocbs=2-3");
    write("sys/devices/system/cpu/online", "0-3");
    write("sys/devices/system/cpu/isolated", "2-3");
    write("sys/devices/system/cpu/nohz_full", "2-3");
    write("sys/devices/system/cpu/cpufreq/boost", "0");
    for (int c = 0; c < 4; ++c) {
      const std::string cpu = "sys/devices/system/cpu/cpu" + std::to_string(c) + "/";
      write(cpu + "topology/thread_siblings_list", std::to_string(c));
      write(cpu + "cpufreq/scaling_governor", "performance");
      write(cpu + "cpuidle/state0/name", "POLL");
      write(cpu + "cpuidle/state0/latency", "0");
      write(cpu + "cpuidle/state0/disable", "0");
      write(cpu + "cpuidle/state1/name", "C1");
      write(cpu + "cpuidle/state1/latency", "1");
      write(cpu + "cpuidle/state1/disable", "1");
    }
    write("proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu tsc msr constant_tsc rep_good nonstop_tsc avx2");
    write("sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc");
    write("proc/1/comm", "systemd");
    write("proc/irq/24/smp_affinity_list", "0-1");
    write("proc/irq/25/smp_affinity_list", "1");
    write("sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never");
    write("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority");
    write("proc/meminfo", "MemTotal:       16000000 kB\nHugePages_Total:      64\nHugePages_Free:       64");
  }

 private:
  fs::path root_;
};

std::map<std::string, DoctorFinding> by_check(const tickpath::engine::DoctorReport& r) {
  std::map<std::string, DoctorFinding> m;
  for (const auto& f : r.findings) m[f.check] = f;
  return m;
}

DoctorOptions opts(const FakeHost& h, std::vector<int> cpus) {
  DoctorOptions o;
  o.root = h.root();
  o.cpus = std::move(cpus);
  o.memlock_bytes = UINT64_MAX;
  return o;
}

tickpath::test::CommandResult cli(const std::string& args) {
  return tickpath::test::run_command(std::string(TICKPATH_BIN) + " " + args + " 2>&1");
}

}  // namespace

TEST(Doctor_CpuList, ParsesRangesLikeTheKernelAgainstASet) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    std::set<int> want;
    std::string text;
    const int parts = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < parts; ++i) {
      const int a = static_cast<int>(rng() % 64);
      const int len = static_cast<int>(rng() % 4);
      for (int c = a; c <= a + len; ++c) want.insert(c);
      if (i) text += ',';
      text += std::to_string(a);
      if (len) {
        text += '-';
        text += std::to_string(a + len);
      }
    }
    const auto got = tickpath::engine::parse_cpu_list(text + "\n");
    EXPECT_EQ(std::vector<int>(want.begin(), want.end()), got) << text;
    EXPECT_EQ(tickpath::engine::parse_cpu_list(tickpath::engine::format_cpu_list(got)), got) << text;
  }
  EXPECT_TRUE(tickpath::engine::parse_cpu_list("2-x").empty());
  EXPECT_TRUE(tickpath::engine::parse_cpu_list("3-1").empty());
  EXPECT_TRUE(tickpath::engine::parse_cpu_list("-1").empty());
  EXPECT_EQ(tickpath::engine::format_cpu_list({0, 1, 2, 5, 7, 8}), "0-2,5,7-8");
}

TEST(Doctor_Host, ATunedHostIsFitWithoutWarnings) {
  FakeHost h("doctor_tuned");
  h.tuned();
  const auto rep = run_doctor(opts(h, {2, 3}));
  EXPECT_TRUE(rep.fit()) << rep.to_table();
  EXPECT_EQ(rep.count(Level::warn), 0U) << rep.to_table();
  EXPECT_EQ(rep.count(Level::fail), 0U);
  const auto m = by_check(rep);
  for (const char* c : {"cores", "housekeeping", "isolcpus", "nohz_full", "rcu_nocbs", "smt", "governor", "boost",
                        "c-states", "tsc", "clocksource", "irqbalance", "irq affinity", "transparent huge pages", "swap",
                        "memlock", "huge pages"}) {
    ASSERT_TRUE(m.count(c)) << c;
    EXPECT_EQ(m.at(c).level, Level::ok) << c << ": " << m.at(c).detail;
  }
  EXPECT_NE(rep.summary().find("cores 2-3 fit"), std::string::npos) << rep.summary();
}

TEST(Doctor_Host, EachPlantedProblemIsFoundWithItsFix) {
  FakeHost h("doctor_untuned");
  h.tuned();
  // Undo the tuning one item at a time.
  h.write("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet");
  h.write("sys/devices/system/cpu/isolated", "");
  fs::remove(fs::path(h.root()) / "sys/devices/system/cpu/nohz_full");
  h.write("sys/devices/system/cpu/cpufreq/boost", "1");
  h.write("sys/devices/system/cpu/cpu2/cpufreq/scaling_governor", "powersave");
  h.write("sys/devices/system/cpu/cpu3/cpuidle/state1/disable", "0");
  h.write("sys/devices/system/cpu/cpu2/topology/thread_siblings_list", "0,2");
  h.write("proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu tsc msr constant_tsc avx2");
  h.write("sys/devices/system/clocksource/clocksource0/current_clocksource", "hpet");
  h.write("proc/4242/comm", "irqbalance");
  h.write("proc/irq/30/smp_affinity_list", "0-3");
  h.write("proc/irq/31/smp_affinity_list", "3");
  h.write("sys/kernel/mm/transparent_hugepage/enabled", "[always] madvise never");
  h.write("proc/swaps", "Filename Type Size Used Priority\n/swapfile file 1048572 0 -2");
  h.write("proc/meminfo", "MemTotal:       16000000 kB\nHugePages_Total:       0");
  auto o = opts(h, {2, 3});
  o.memlock_bytes = 8ULL << 20;
  const auto rep = run_doctor(o);
  EXPECT_FALSE(rep.fit());
  const auto m = by_check(rep);
  const std::map<std::string, Level> want = {
      {"cores", Level::ok},        {"isolcpus", Level::fail},   {"nohz_full", Level::warn},
      {"rcu_nocbs", Level::warn},  {"smt", Level::warn},        {"governor", Level::warn},
      {"boost", Level::warn},      {"c-states", Level::warn},   {"tsc", Level::fail},
      {"clocksource", Level::warn}, {"irqbalance", Level::warn}, {"irq affinity", Level::warn},
      {"transparent huge pages", Level::warn}, {"swap", Level::warn}, {"memlock", Level::warn},
      {"huge pages", Level::info}};
  for (const auto& [check, level] : want) {
    ASSERT_TRUE(m.count(check)) << check;
    EXPECT_EQ(m.at(check).level, level) << check << ": " << m.at(check).detail;
    if (level != Level::ok) {
      EXPECT_FALSE(m.at(check).fix.empty()) << check;
    }
  }
  // Fixes name the hot cores and the exact things found.
  EXPECT_NE(m.at("isolcpus").fix.find("isolcpus=managed_irq,domain,2-3"), std::string::npos);
  EXPECT_NE(m.at("nohz_full").fix.find("nohz_full=2-3"), std::string::npos);
  EXPECT_NE(m.at("smt").detail.find("2 shares a physical core with 0"), std::string::npos) << m.at("smt").detail;
  EXPECT_NE(m.at("smt").fix.find("for c in 0;"), std::string::npos) << m.at("smt").fix;
  EXPECT_NE(m.at("governor").detail.find("2:powersave"), std::string::npos);
  EXPECT_EQ(m.at("governor").detail.find("3:"), std::string::npos);
  EXPECT_NE(m.at("c-states").detail.find("3:C1(1us)"), std::string::npos) << m.at("c-states").detail;
  EXPECT_NE(m.at("tsc").detail.find("nonstop_tsc no"), std::string::npos);
  // IRQ 30 (anywhere) and 31 (only core 3) reach hot cores; 24 and 25 (cores 0-1) do not.
  EXPECT_NE(m.at("irq affinity").detail.find("2 interrupt(s)"), std::string::npos) << m.at("irq affinity").detail;
  EXPECT_NE(m.at("irq affinity").fix.find("for i in 30 31; do echo 0-1 >"), std::string::npos) << m.at("irq affinity").fix;
  EXPECT_NE(m.at("memlock").detail.find("8192 KiB"), std::string::npos);
  EXPECT_NE(rep.summary().find("NOT fit"), std::string::npos);
  EXPECT_NE(rep.summary().find("isolcpus,tsc"), std::string::npos) << rep.summary();
}

TEST(Doctor_Host, CoresThatAreOfflineOrNotAllowedFail) {
  FakeHost h("doctor_cores");
  h.tuned();
  auto o = opts(h, {2, 7});
  auto m = by_check(run_doctor(o));
  EXPECT_EQ(m.at("cores").level, Level::fail);
  EXPECT_NE(m.at("cores").detail.find("7 not online"), std::string::npos);
  o = opts(h, {2, 3});
  o.allowed_cpus = {0, 1, 2};
  m = by_check(run_doctor(o));
  EXPECT_EQ(m.at("cores").level, Level::fail);
  EXPECT_NE(m.at("cores").detail.find("3 not in this process's affinity set 0-2"), std::string::npos);
  // Without --cpus: the allowed set.
  o = opts(h, {});
  o.allowed_cpus = {2, 3};
  EXPECT_EQ(run_doctor(o).cpus, (std::vector<int>{2, 3}));
}

// A core besides the hot ones, for the io thread and the kernel: with none,
// a warning whose fix is one hot thread on one of them.
TEST(Doctor_Host, HotCoresThatTakeEveryCoreLeaveNoneForHousekeeping) {
  FakeHost h("doctor_housekeeping");
  h.tuned();
  auto o = opts(h, {2, 3});
  auto m = by_check(run_doctor(o));
  EXPECT_EQ(m.at("housekeeping").level, Level::ok);
  EXPECT_NE(m.at("housekeeping").detail.find("core(s) 0-1 left"), std::string::npos) << m.at("housekeeping").detail;
  o.allowed_cpus = {2, 3};  // a 2-core container or VM: the hot pair is all there is
  m = by_check(run_doctor(o));
  EXPECT_EQ(m.at("housekeeping").level, Level::warn);
  EXPECT_NE(m.at("housekeeping").detail.find("no core besides the hot cores 2-3"), std::string::npos);
  EXPECT_NE(m.at("housekeeping").fix.find("--inline-strategy --cpus 2"), std::string::npos) << m.at("housekeeping").fix;
  o = opts(h, {2});  // one hot core: 3 is left
  o.allowed_cpus = {2, 3};
  m = by_check(run_doctor(o));
  EXPECT_EQ(m.at("housekeeping").level, Level::ok);
  EXPECT_NE(m.at("housekeeping").detail.find("core(s) 3 left"), std::string::npos);
  o.allowed_cpus = {2};  // one core in all
  m = by_check(run_doctor(o));
  EXPECT_EQ(m.at("housekeeping").level, Level::warn);
  EXPECT_NE(m.at("housekeeping").fix.find("a second core"), std::string::npos);
  o = opts(h, {});  // no hot cores named: nothing to judge
  o.allowed_cpus = {2, 3};
  m = by_check(run_doctor(o));
  EXPECT_EQ(m.at("housekeeping").level, Level::info);
  EXPECT_NE(m.at("housekeeping").fix.find("--cpus"), std::string::npos);
}

TEST(Doctor_Cli, ExitStatusSaysFitAndJsonHasEveryFinding) {
  FakeHost h("doctor_cli");
  h.tuned();
  // The test process's own memlock limit and affinity are the real ones; the
  // fake host has cores 0-3, so ask for cores this machine surely allows.
  auto r = cli("doctor --root " + h.root() + " --cpus 0 --json");
  const auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_TRUE(j["findings"].is_array());
  EXPECT_GE(j["findings"].size(), 15U);
  for (const auto& f : j["findings"]) {
    EXPECT_TRUE(f.contains("check") && f.contains("level") && f.contains("detail") && f.contains("fix")) << f.dump();
  }
  // Core 0 is not isolated in the image: not fit, exit 1.
  EXPECT_FALSE(j["fit"].get<bool>());
  EXPECT_EQ(r.status, 1);
  h.write("sys/devices/system/cpu/isolated", "0,2-3");
  r = cli("doctor --root " + h.root() + " --cpus 0");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("fit for latency work"), std::string::npos) << r.out;
  r = cli("doctor --cpus 0-x");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--cpus takes a core list"), std::string::npos) << r.out;
}

// ---- vCPU steal (cpu_steal.hpp): /proc/stat as the kernel writes it ----

#include "cpu_steal.hpp"

namespace {

// Two CPUs of a guest; fields: user nice system idle iowait irq softirq steal guest guest_nice.
std::string proc_stat(std::uint64_t steal0, std::uint64_t steal1) {
  return "cpu  5627830 22573 439263 1727605 6908 0 4949 " + std::to_string(steal0 + steal1) +
         " 0 0\n"
         "cpu0 2754038 11195 214456 931557 2052 0 1685 " +
         std::to_string(steal0) +
         " 0 0\n"
         "cpu1 2873792 11377 224806 796047 4855 0 3264 " +
         std::to_string(steal1) +
         " 0 0\n"
         "intr 123 0 0\nctxt 456\nbtime 1764740000\nprocesses 789\nprocs_running 2\n";
}

}  // namespace

TEST(Steal_ProcStat, TheEighthFieldOfEachCpuLine) {
  const std::string text = proc_stat(38258, 38303);
  std::uint64_t t = 0;
  ASSERT_TRUE(tickpath::engine::parse_steal_ticks(text, 0, t));
  EXPECT_EQ(t, 38258U);
  ASSERT_TRUE(tickpath::engine::parse_steal_ticks(text, 1, t));
  EXPECT_EQ(t, 38303U);
  EXPECT_FALSE(tickpath::engine::parse_steal_ticks(text, 2, t));   // no such CPU
  EXPECT_FALSE(tickpath::engine::parse_steal_ticks(text, -1, t));  // nor this
  EXPECT_EQ(tickpath::engine::stat_cpus(text), (std::vector<int>{0, 1}));  // not the "cpu " total
  // cpu1 must not match cpu10's line, nor cpu1 match a prefix of it
  const std::string ten = "cpu10 1 2 3 4 5 6 7 99 0 0\ncpu1 1 2 3 4 5 6 7 11 0 0\n";
  ASSERT_TRUE(tickpath::engine::parse_steal_ticks(ten, 1, t));
  EXPECT_EQ(t, 11U);
  ASSERT_TRUE(tickpath::engine::parse_steal_ticks(ten, 10, t));
  EXPECT_EQ(t, 99U);
  // an old kernel's line without the field, a line cut short, a field that is not a number
  EXPECT_FALSE(tickpath::engine::parse_steal_ticks("cpu0 1 2 3 4 5 6 7\n", 0, t));
  EXPECT_FALSE(tickpath::engine::parse_steal_ticks("cpu0 1 2 3\n", 0, t));
  EXPECT_FALSE(tickpath::engine::parse_steal_ticks("cpu0 1 2 3 4 5 6 7 x8 0 0\n", 0, t));
  EXPECT_FALSE(tickpath::engine::parse_steal_ticks("", 0, t));
}

TEST(Steal_Meter, TicksBecomeMillisecondsPerHotCore) {
  FakeHost host("steal_meter");
  host.write("proc/stat", proc_stat(1000, 2000));
  const tickpath::engine::StealMeter meter({1}, host.root());
  host.write("proc/stat", proc_stat(1000 + 7, 2000 + 25));  // cpu1 lost 25 ticks
  const auto got = meter.since_start();
  ASSERT_EQ(got.size(), 1U);
  EXPECT_EQ(got[0].cpu, 1);
  const double ms_per_tick = 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  EXPECT_DOUBLE_EQ(got[0].ms, 25 * ms_per_tick);
  EXPECT_GT(got[0].fraction, 0.0);
  EXPECT_LE(got[0].fraction, 1.0);  // the fake's 250 ms of steal in far less wall time: capped

  const tickpath::engine::StealMeter all({}, host.root());  // not pinned: every CPU listed
  host.write("proc/stat", proc_stat(1000 + 7 + 3, 2000 + 25));
  const auto both = all.since_start();
  ASSERT_EQ(both.size(), 2U);
  EXPECT_DOUBLE_EQ(both[0].ms, 3 * ms_per_tick);
  EXPECT_DOUBLE_EQ(both[1].ms, 0.0);

  FakeHost bare("steal_bare");  // no /proc/stat: nothing measured, nothing made up
  EXPECT_TRUE(tickpath::engine::StealMeter({0}, bare.root()).since_start().empty());
}
