#include "tickpath/engine/doctor.hpp"

#include <dirent.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include <fmt/format.h>

namespace tickpath::engine {

using Level = DoctorFinding::Level;

const char* to_string(Level l) noexcept {
  switch (l) {
    case Level::ok: return "ok";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::fail: return "FAIL";
  }
  return "?";
}

std::vector<int> parse_cpu_list(const std::string& list) {
  std::vector<int> out;
  std::stringstream ss(list);
  std::string part;
  while (std::getline(ss, part, ',')) {
    while (!part.empty() && (part.back() == '\n' || part.back() == ' ')) part.pop_back();
    while (!part.empty() && part.front() == ' ') part.erase(part.begin());
    if (part.empty()) continue;
    const auto dash = part.find('-');
    try {
      std::size_t used = 0;
      const int a = std::stoi(part.substr(0, dash), &used);
      if (used != (dash == std::string::npos ? part.size() : dash) || a < 0) return {};
      int b = a;
      if (dash != std::string::npos) {
        const std::string hi = part.substr(dash + 1);
        b = std::stoi(hi, &used);
        if (used != hi.size() || b < a) return {};
      }
      for (int c = a; c <= b; ++c) out.push_back(c);
    } catch (const std::exception&) {
      return {};
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string format_cpu_list(const std::vector<int>& cpus) {
  std::string out;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? std::to_string(cpus[i]) : fmt::format("{}-{}", cpus[i], cpus[j]);
    i = j + 1;
  }
  return out;
}

std::uint64_t current_memlock_limit() noexcept {
  rlimit r{};
  if (getrlimit(RLIMIT_MEMLOCK, &r) != 0) return 0;
  return r.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(r.rlim_cur);
}

std::vector<int> current_allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

namespace {

class Host {
 public:
  explicit Host(std::string root) : root_(std::move(root)) {
    if (root_.empty() || root_.back() != '/') root_ += '/';
  }
  // The file's contents without the trailing newline; false when unreadable.
  bool read(const std::string& rel, std::string& out) const {
    std::ifstream f(root_ + rel);
    if (!f) return false;
    std::stringstream ss;
    ss << f.rdbuf();
    out = ss.str();
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return true;
  }
  bool exists(const std::string& rel) const {
    std::ifstream f(root_ + rel);
    return static_cast<bool>(f);
  }
  std::vector<std::string> list(const std::string& rel) const {
    std::vector<std::string> out;
    if (DIR* d = opendir((root_ + rel).c_str())) {
      while (dirent* e = readdir(d))
        if (e->d_name[0] != '.') out.emplace_back(e->d_name);
      closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string root_;
};

// Value of `key=` on the kernel command line, or empty.
std::string cmdline_param(const std::string& cmdline, const std::string& key) {
  std::stringstream ss(cmdline);
  std::string tok;
  std::string found;
  while (ss >> tok)
    if (tok.rfind(key + "=", 0) == 0) found = tok.substr(key.size() + 1);
  return found;
}
bool cmdline_flag(const std::string& cmdline, const std::string& key) {
  std::stringstream ss(cmdline);
  std::string tok;
  while (ss >> tok)
    if (tok == key || tok.rfind(key + "=", 0) == 0) return true;
  return false;
}

// isolcpus= may carry flags before the list ("managed_irq,domain,2-3").
std::vector<int> isolcpus_list(const std::string& v) {
  std::string list;
  std::stringstream ss(v);
  std::string part;
  while (std::getline(ss, part, ','))
    if (!part.empty() && (std::isdigit(static_cast<unsigned char>(part[0])) != 0)) list += (list.empty() ? "" : ",") + part;
  return parse_cpu_list(list);
}

std::vector<int> missing_from(const std::vector<int>& want, const std::vector<int>& have) {
  std::vector<int> out;
  for (int c : want)
    if (std::find(have.begin(), have.end(), c) == have.end()) out.push_back(c);
  return out;
}

std::string cpu_path(int c, const std::string& rest) { return fmt::format("sys/devices/system/cpu/cpu{}/{}", c, rest); }

class Doctor {
 public:
  Doctor(const DoctorOptions& o, DoctorReport& r) : opt_(o), rep_(r), host_(o.root) {}

  void run() {
    host_.read("proc/cmdline", cmdline_);
    resolve_cpus();
    if (rep_.cpus.empty()) return;
    hot_list_ = format_cpu_list(rep_.cpus);
    check_cores();
    check_housekeeping();
    check_isolation();
    check_smt();
    check_frequency();
    check_cstates();
    check_tsc();
    check_irqs();
    check_memory();
  }

 private:
  void add(const char* check, Level l, std::string detail, std::string fix = {}) {
    rep_.findings.push_back({check, l, std::move(detail), std::move(fix)});
  }

  void resolve_cpus() {
    std::string online;
    host_.read("sys/devices/system/cpu/online", online);
    online_ = parse_cpu_list(online);
    rep_.cpus = opt_.cpus.empty() ? (opt_.allowed_cpus.empty() ? online_ : opt_.allowed_cpus) : opt_.cpus;
    if (rep_.cpus.empty()) add("cores", Level::fail, "no cores to check: sys/devices/system/cpu/online is unreadable");
  }

  void check_cores() {
    const auto offline = missing_from(rep_.cpus, online_);
    if (!offline.empty()) {
      add("cores", Level::fail, fmt::format("core(s) {} not online (online: {})", format_cpu_list(offline), format_cpu_list(online_)),
          "pick hot cores from the online list with --cpus");
      return;
    }
    if (!opt_.allowed_cpus.empty()) {
      const auto denied = missing_from(rep_.cpus, opt_.allowed_cpus);
      if (!denied.empty()) {
        add("cores", Level::fail,
            fmt::format("core(s) {} not in this process's affinity set {}", format_cpu_list(denied),
                        format_cpu_list(opt_.allowed_cpus)),
            "start tickpath with those cores allowed (taskset -c / the container's cpuset)");
        return;
      }
    }
    add("cores", Level::ok, fmt::format("hot cores {} online and allowed", hot_list_));
  }

  // A core besides the hot ones, for the io thread, the kernel and the
  // interrupts: without one they preempt a busy-polling hot thread.
  void check_housekeeping() {
    if (opt_.cpus.empty()) {  // every allowed core stands in for the hot ones: nothing to judge
      add("housekeeping", Level::info, "no hot cores named: the scheduler places the hot threads",
          "pin them with --cpus, leaving a core besides them for the io thread and the kernel");
      return;
    }
    const auto spare = missing_from(opt_.allowed_cpus.empty() ? online_ : opt_.allowed_cpus, rep_.cpus);
    if (!spare.empty()) {
      add("housekeeping", Level::ok, fmt::format("core(s) {} left for the io thread, the kernel and interrupts",
                                                 format_cpu_list(spare)));
      return;
    }
    add("housekeeping", Level::warn,
        fmt::format("no core besides the hot cores {}: the io thread, the kernel and interrupts preempt the hot "
                    "threads, tens of microseconds at a time",
                    hot_list_),
        rep_.cpus.size() >= 2 ? fmt::format("run the hot path on one core and leave the other(s): tickpath run "
                                            "--inline-strategy --cpus {}",
                                            rep_.cpus.front())
                              : std::string("allow tickpath a second core (taskset -c / the container's cpuset)"));
  }

  void check_isolation() {
    std::string isolated;
    host_.read("sys/devices/system/cpu/isolated", isolated);
    std::vector<int> iso = parse_cpu_list(isolated);
    if (iso.empty()) iso = isolcpus_list(cmdline_param(cmdline_, "isolcpus"));
    const auto not_iso = missing_from(rep_.cpus, iso);
    if (not_iso.empty()) {
      add("isolcpus", Level::ok, fmt::format("cores {} isolated from the scheduler", hot_list_));
    } else {
      add("isolcpus", Level::fail,
          fmt::format("core(s) {} not isolated: other tasks and kernel threads are scheduled on them", format_cpu_list(not_iso)),
          fmt::format("add 'isolcpus=managed_irq,domain,{}' to GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub and reboot",
                      hot_list_));
    }
    std::string nohz;
    std::vector<int> nohz_cpus;
    if (host_.read("sys/devices/system/cpu/nohz_full", nohz)) nohz_cpus = parse_cpu_list(nohz);
    if (nohz_cpus.empty()) nohz_cpus = parse_cpu_list(cmdline_param(cmdline_, "nohz_full"));
    const auto not_nohz = missing_from(rep_.cpus, nohz_cpus);
    if (not_nohz.empty())
      add("nohz_full", Level::ok, fmt::format("scheduler tick stopped on {} when one task runs", hot_list_));
    else
      add("nohz_full", Level::warn,
          fmt::format("core(s) {} take the periodic scheduler tick (a few us every 1-4 ms)", format_cpu_list(not_nohz)),
          fmt::format("kernel parameter 'nohz_full={}' (with isolcpus)", hot_list_));
    const auto rcu = parse_cpu_list(cmdline_param(cmdline_, "rcu_nocbs"));
    const auto not_rcu = missing_from(rep_.cpus, rcu);
    if (not_rcu.empty())
      add("rcu_nocbs", Level::ok, fmt::format("RCU callbacks offloaded from {}", hot_list_));
    else
      add("rcu_nocbs", Level::warn, fmt::format("RCU callbacks may run on core(s) {}", format_cpu_list(not_rcu)),
          fmt::format("kernel parameter 'rcu_nocbs={}'", hot_list_));
  }

  void check_smt() {
    std::vector<std::string> shared;
    for (int c : rep_.cpus) {
      std::string sib;
      if (!host_.read(cpu_path(c, "topology/thread_siblings_list"), sib)) continue;
      for (int s : parse_cpu_list(sib)) {
        if (s == c) continue;
        // A sibling that is itself a hot core still shares the core's pipeline.
        shared.push_back(fmt::format("{} shares a physical core with {}", c, s));
        smt_siblings_.push_back(s);
      }
    }
    std::string smt;
    host_.read("sys/devices/system/cpu/smt/active", smt);
    if (shared.empty()) {
      add("smt", Level::ok, smt == "1" ? "SMT on, but no hot core has an online sibling" : "no SMT sibling on the hot cores");
    } else {
      std::sort(smt_siblings_.begin(), smt_siblings_.end());
      smt_siblings_.erase(std::unique(smt_siblings_.begin(), smt_siblings_.end()), smt_siblings_.end());
      std::string d;
      for (const auto& s : shared) d += (d.empty() ? "" : "; ") + s;
      add("smt", Level::warn, d + ": the sibling's work slows the hot thread",
          fmt::format("for c in {}; do echo 0 > /sys/devices/system/cpu/cpu$c/online; done  (or kernel parameter 'nosmt')",
                      fmt::format("{}", fmt::join(smt_siblings_, " "))));
    }
  }

  void check_frequency() {
    std::vector<std::string> slow;
    bool any_cpufreq = false;
    for (int c : rep_.cpus) {
      std::string gov;
      if (!host_.read(cpu_path(c, "cpufreq/scaling_governor"), gov)) continue;
      any_cpufreq = true;
      if (gov != "performance") slow.push_back(fmt::format("{}:{}", c, gov));
    }
    if (!any_cpufreq) {
      add("governor", Level::info, "no cpufreq interface (a virtual machine, or frequency set by firmware): nothing to tune here");
    } else if (slow.empty()) {
      add("governor", Level::ok, "performance governor on the hot cores");
    } else {
      add("governor", Level::warn, fmt::format("governor not 'performance' on {}: the clock ramps up after idle", fmt::join(slow, ", ")),
          fmt::format("cpupower -c {} frequency-set -g performance", hot_list_));
    }
    std::string boost;
    if (host_.read("sys/devices/system/cpu/cpufreq/boost", boost)) {
      if (boost == "1")
        add("boost", Level::warn, "turbo/boost on: frequency follows temperature and load elsewhere, so latency drifts",
            "echo 0 > /sys/devices/system/cpu/cpufreq/boost  (keep it on if peak speed matters more than repeatability)");
      else
        add("boost", Level::ok, "boost off: stable frequency");
    } else if (host_.read("sys/devices/system/cpu/intel_pstate/no_turbo", boost)) {
      if (boost == "0")
        add("boost", Level::warn, "turbo on (intel_pstate): frequency drifts with load and temperature",
            "echo 1 > /sys/devices/system/cpu/intel_pstate/no_turbo");
      else
        add("boost", Level::ok, "turbo off: stable frequency");
    }
  }

  void check_cstates() {
    if (cmdline_flag(cmdline_, "idle") && cmdline_param(cmdline_, "idle") == "poll") {
      add("c-states", Level::ok, "idle=poll: cores never sleep");
      return;
    }
    std::vector<std::string> deep;
    bool any = false;
    for (int c : rep_.cpus) {
      for (const auto& st : host_.list(cpu_path(c, "cpuidle"))) {
        if (st.rfind("state", 0) != 0) continue;
        any = true;
        std::string name, disabled, latency;
        host_.read(cpu_path(c, "cpuidle/" + st + "/name"), name);
        host_.read(cpu_path(c, "cpuidle/" + st + "/disable"), disabled);
        host_.read(cpu_path(c, "cpuidle/" + st + "/latency"), latency);
        if (name == "POLL" || disabled == "1") continue;
        if (latency.empty() || latency == "0") continue;
        deep.push_back(fmt::format("{}:{}({}us)", c, name, latency));
      }
    }
    if (!any) {
      add("c-states", Level::info, "no cpuidle states exposed (a virtual machine, or idle handled by the hypervisor)");
    } else if (deep.empty()) {
      add("c-states", Level::ok, "only polling or zero-latency idle states enabled on the hot cores");
    } else {
      add("c-states", Level::warn,
          fmt::format("idle states with exit latency enabled: {} (a busy-polling thread never enters them, but its io "
                      "and sibling cores do)",
                      fmt::join(deep, " ")),
          fmt::format("cpupower -c {} idle-set -D 0  (or kernel parameters 'processor.max_cstate=1 intel_idle.max_cstate=0')",
                      hot_list_));
    }
  }

  void check_tsc() {
    std::string cpuinfo;
    host_.read("proc/cpuinfo", cpuinfo);
    std::string flags;
    {
      std::stringstream ss(cpuinfo);
      std::string line;
      while (std::getline(ss, line))
        if (line.rfind("flags", 0) == 0) {
          flags = ' ';
          flags.append(line, line.find(':') + 1);
          flags += ' ';
          break;
        }
    }
    const bool constant = flags.find(" constant_tsc ") != std::string::npos;
    const bool nonstop = flags.find(" nonstop_tsc ") != std::string::npos;
    if (constant && nonstop)
      add("tsc", Level::ok, "invariant TSC (constant_tsc, nonstop_tsc): stage stamps are cheap and comparable across cores");
    else
      add("tsc", Level::fail,
          fmt::format("TSC not invariant (constant_tsc {}, nonstop_tsc {}): stamps drift with frequency and idle states",
                      constant ? "yes" : "no", nonstop ? "yes" : "no"),
          "use a host whose CPU has an invariant TSC (all x86 server CPUs since ~2010; on a VM, expose it: "
          "KVM '-cpu host,+invtsc')");
    std::string cs;
    host_.read("sys/devices/system/clocksource/clocksource0/current_clocksource", cs);
    if (cs == "tsc")
      add("clocksource", Level::ok, "clocksource tsc: clock_gettime without a system call");
    else
      add("clocksource", Level::warn,
          fmt::format("clocksource '{}': clock_gettime is slower than with tsc (tickpath's stage stamps read the TSC "
                      "directly and are not affected; wall-clock reads are)",
                      cs.empty() ? "unknown" : cs),
          "kernel parameters 'clocksource=tsc tsc=reliable' (only where the TSC is invariant)");
  }

  void check_irqs() {
    // irqbalance re-spreads interrupts every few seconds, onto hot cores too.
    bool irqbalance = false;
    for (const auto& pid : host_.list("proc")) {
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string comm;
      if (host_.read("proc/" + pid + "/comm", comm) && comm == "irqbalance") {
        irqbalance = true;
        break;
      }
    }
    if (irqbalance)
      add("irqbalance", Level::warn, "irqbalance is running: it moves interrupts onto the hot cores",
          fmt::format("systemctl stop irqbalance && systemctl disable irqbalance  (or IRQBALANCE_BANNED_CPULIST={} in "
                      "/etc/default/irqbalance)",
                      hot_list_));
    else
      add("irqbalance", Level::ok, "irqbalance not running");

    std::vector<std::string> on_hot;
    std::vector<std::string> irqs;
    for (const auto& irq : host_.list("proc/irq")) {
      if (irq.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string aff;
      if (!host_.read("proc/irq/" + irq + "/smp_affinity_list", aff)) continue;
      const auto cpus = parse_cpu_list(aff);
      const bool hits = std::any_of(rep_.cpus.begin(), rep_.cpus.end(),
                                    [&](int c) { return std::find(cpus.begin(), cpus.end(), c) != cpus.end(); });
      // An IRQ allowed everywhere is steered by the kernel; one that can only go to hot cores cannot be moved by it.
      if (hits) {
        on_hot.push_back(irq);
        irqs.push_back(irq);
      }
    }
    if (on_hot.empty()) {
      add("irq affinity", Level::ok, fmt::format("no interrupt may be delivered to {}", hot_list_));
    } else {
      std::vector<int> others;
      for (int c : online_)
        if (std::find(rep_.cpus.begin(), rep_.cpus.end(), c) == rep_.cpus.end()) others.push_back(c);
      std::string shown;
      for (std::size_t i = 0; i < on_hot.size() && i < 12; ++i) shown += (i ? "," : "") + on_hot[i];
      if (on_hot.size() > 12) shown += ",...";
      add("irq affinity", Level::warn,
          fmt::format("{} interrupt(s) may be delivered to hot cores {} (IRQ {})", on_hot.size(), hot_list_, shown),
          others.empty() ? std::string("no other online core to move them to: add a housekeeping core")
                         : fmt::format("for i in {}; do echo {} > /proc/irq/$i/smp_affinity_list; done", fmt::join(irqs, " "),
                                       format_cpu_list(others)));
    }
  }

  void check_memory() {
    std::string thp;
    host_.read("sys/kernel/mm/transparent_hugepage/enabled", thp);
    if (thp.find("[always]") != std::string::npos)
      add("transparent huge pages", Level::warn,
          "THP 'always': khugepaged compacts and collapses pages in the background, stalling the threads that touch them",
          "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled  (tickpath asks for huge pages itself with --huge-pages)");
    else if (!thp.empty())
      add("transparent huge pages", Level::ok, fmt::format("THP {}", thp));

    std::string swaps;
    host_.read("proc/swaps", swaps);
    const auto lines = std::count(swaps.begin(), swaps.end(), '\n');
    if (lines >= 1)
      add("swap", Level::warn, fmt::format("{} swap device(s) active: pages not locked can be swapped out", lines),
          "swapoff -a  (tickpath locks its own memory with mlockall when the memlock limit allows)");
    else
      add("swap", Level::ok, "no swap");

    if (opt_.memlock_bytes == UINT64_MAX)
      add("memlock", Level::ok, "memlock limit unlimited: mlockall can lock the engine's memory");
    else if (opt_.memlock_bytes >= opt_.memlock_needed)
      add("memlock", Level::ok, fmt::format("memlock limit {} MiB", opt_.memlock_bytes >> 20));
    else
      add("memlock", Level::warn,
          fmt::format("memlock limit {} KiB < the {} MiB the engine locks: mlockall will fail and pages may fault on the "
                      "hot path",
                      opt_.memlock_bytes >> 10, opt_.memlock_needed >> 20),
          "ulimit -l unlimited  (or '<user> - memlock unlimited' in /etc/security/limits.conf; LimitMEMLOCK=infinity "
          "for a systemd unit)");

    std::string meminfo;
    host_.read("proc/meminfo", meminfo);
    long total = -1;
    if (const auto at = meminfo.find("HugePages_Total:"); at != std::string::npos)
      total = std::strtol(meminfo.c_str() + at + 16, nullptr, 10);
    if (total > 0)
      add("huge pages", Level::ok, fmt::format("{} huge pages reserved (--huge-pages can use them)", total));
    else
      add("huge pages", Level::info, "no huge pages reserved: --huge-pages falls back to 4 KB pages",
          "sysctl vm.nr_hugepages=64  (128 MB of 2 MB pages)");
  }

  const DoctorOptions& opt_;
  DoctorReport& rep_;
  Host host_;
  std::string cmdline_;
  std::vector<int> online_;
  std::vector<int> smt_siblings_;
  std::string hot_list_;
};

}  // namespace

bool DoctorReport::fit() const noexcept { return count(Level::fail) == 0; }

std::size_t DoctorReport::count(Level l) const noexcept {
  return static_cast<std::size_t>(
      std::count_if(findings.begin(), findings.end(), [&](const DoctorFinding& f) { return f.level == l; }));
}

std::string DoctorReport::to_table() const {
  std::string o = fmt::format("host check for hot cores {}\n", format_cpu_list(cpus));
  for (const auto& f : findings) {
    o += fmt::format("  {:<4}  {:<22} {}\n", to_string(f.level), f.check, f.detail);
    if (!f.fix.empty()) o += fmt::format("        {:<22} fix: {}\n", "", f.fix);
  }
  o += fmt::format("\n  {} ok, {} info, {} warnings, {} failing: {}\n", count(Level::ok), count(Level::info),
                   count(Level::warn), count(Level::fail),
                   fit() ? "the hot cores are fit for latency work (warnings cost tail latency)"
                         : "the hot cores are NOT fit for latency work");
  return o;
}

std::string DoctorReport::to_json() const {
  nlohmann::json j;
  j["cpus"] = cpus;
  j["fit"] = fit();
  j["findings"] = nlohmann::json::array();
  for (const auto& f : findings)
    j["findings"].push_back({{"check", f.check}, {"level", to_string(f.level)}, {"detail", f.detail}, {"fix", f.fix}});
  return j.dump();
}

std::string DoctorReport::summary() const {
  std::string failing, warning;
  for (const auto& f : findings) {
    if (f.level == Level::fail) failing += (failing.empty() ? "" : ",") + f.check;
    if (f.level == Level::warn) warning += (warning.empty() ? "" : ",") + f.check;
  }
  return fmt::format("host: cores {} {}; {} failing{}{}, {} warnings{}{}  (tickpath doctor --cpus {} for the fixes)",
                     format_cpu_list(cpus), fit() ? "fit" : "NOT fit for latency work", count(Level::fail),
                     failing.empty() ? "" : " ", failing, count(Level::warn), warning.empty() ? "" : " ", warning,
                     format_cpu_list(cpus));
}

DoctorReport run_doctor(const DoctorOptions& opt) {
  DoctorReport rep;
  Doctor(opt, rep).run();
  return rep;
}

}  // namespace tickpath::engine
