// tickpath-exsim: the exchange simulator on the command line. Prints one
// line with its URLs when it is ready, takes fault commands on stdin (one
// per line: drop | stall SECONDS | malformed | skip_ids | ping | close |
// oversized BYTES | pause | resume | stats) and runs until SIGINT/SIGTERM.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <sstream>
#include <thread>

#include "exsim.hpp"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

void print_stats(const tickpath::exsim::SimStats& s) {
  std::fprintf(stderr,
               "exsim: generated %llu (unsubscribed %llu) sent %llu to %zu open clients, backlog %llu B, "
               "connections %llu, REST %llu, pings %llu / pongs %llu, faults %llu\n",
               static_cast<unsigned long long>(s.generated), static_cast<unsigned long long>(s.generated_unsubscribed),
               static_cast<unsigned long long>(s.sent), s.open_ws, static_cast<unsigned long long>(s.backlog_bytes),
               static_cast<unsigned long long>(s.connections), static_cast<unsigned long long>(s.rest_requests),
               static_cast<unsigned long long>(s.pings_sent), static_cast<unsigned long long>(s.pongs_matched),
               static_cast<unsigned long long>(s.faults));
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tickpath-exsim: Binance Spot market-data endpoints on loopback (WebSocket streams + REST depth)"};
  tickpath::exsim::SimConfig cfg;
  bool plain = false;
  std::string symbols = "BTCUSDT,ETHUSDT";
  std::vector<std::string> faults;
  double stats_every = 0;
  app.add_option("--bind", cfg.bind, "address to listen on")->capture_default_str();
  app.add_option("--port", cfg.port, "port (0: any free port)")->capture_default_str();
  app.add_flag("--plain", plain, "serve ws:// and http:// instead of TLS");
  app.add_option("--cert-dir", cfg.cert_dir, "write the generated certificate and key here (default: a temp dir)");
  app.add_option("--symbols", symbols, "synthetic market symbols")->capture_default_str();
  app.add_option("--seed", cfg.market.seed, "synthetic market seed")->capture_default_str();
  app.add_option("--rate", cfg.rate_per_s, "frames per second (0: as fast as clients take them)")->capture_default_str();
  double event_rate = 0;
  app.add_option("--event-rate", event_rate, "synthetic frames per second of market (event) time; default --rate, "
                                             "lower makes the market's clock run faster than the wall's");
  app.add_option("--frames", cfg.max_frames, "stop generating after N frames (0: never)");
  app.add_option("--recording", cfg.recording, "serve this frames file (looped) instead of the synthetic market");
  app.add_option("--fault", faults, "KIND:EVERY_S[:ARG], e.g. drop:30 stall:10:2 skip_ids:5 (repeatable)");
  std::string udp;
  app.add_option("--udp", udp, "also multicast every frame to GROUP:PORT (e.g. 239.255.42.1:40001), from --udp-interface");
  app.add_option("--udp-interface", cfg.udp_interface, "local address to send multicast from")->capture_default_str();
  app.add_option("--stats-every", stats_every, "print counters every S seconds");
  app.add_flag("--log", cfg.log, "log connections and faults on stderr");
  CLI11_PARSE(app, argc, argv);
  cfg.tls = !plain;
  if (!udp.empty()) {
    const auto colon = udp.rfind(':');
    int port = 0;
    try {
      port = colon == std::string::npos ? 0 : std::stoi(udp.substr(colon + 1));
    } catch (const std::exception&) {
    }
    if (port <= 0 || port > 65535) {
      std::fprintf(stderr, "tickpath-exsim: --udp takes GROUP:PORT, e.g. 239.255.42.1:40001\n");
      return 1;
    }
    cfg.udp_group = udp.substr(0, colon);
    cfg.udp_port = static_cast<std::uint16_t>(port);
  }
  cfg.market.symbols = split(symbols, ',');
  cfg.market.rate_per_s = event_rate > 0 ? event_rate : std::max(cfg.rate_per_s, 1.0);
  for (const auto& f : faults) {
    const auto parts = split(f, ':');
    tickpath::exsim::ScheduledFault sf{};
    try {
      if (parts.size() < 2 || parts.size() > 3 || !tickpath::exsim::parse_fault(parts[0], sf.fault))
        throw std::invalid_argument(f);
      sf.every_s = std::stod(parts[1]);
      if (parts.size() == 3) sf.arg = std::stod(parts[2]);
      if (!(sf.every_s > 0)) throw std::invalid_argument(f);
    } catch (const std::exception&) {
      std::fprintf(stderr, "tickpath-exsim: bad --fault '%s' (KIND:EVERY_S[:ARG], KIND one of drop stall malformed "
                           "skip_ids ping close oversized)\n", f.c_str());
      return 1;
    }
    cfg.schedule.push_back(sf);
  }

  tickpath::exsim::ExchangeSimulator sim(cfg);
  std::string error;
  if (!sim.start(error)) {
    std::fprintf(stderr, "tickpath-exsim: %s\n", error.c_str());
    return 1;
  }
  std::printf("exsim ready: %s/stream %s/api/v3/depth%s%s%s%s\n", sim.ws_base().c_str(), sim.rest_base().c_str(),
              sim.ca_file().empty() ? "" : " ca-file ", sim.ca_file().c_str(), udp.empty() ? "" : " udp ", udp.c_str());
  std::fflush(stdout);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  std::thread commands([&sim] {
    std::string line;
    while (!g_stop.load() && std::getline(std::cin, line)) {
      const auto parts = split(line, ' ');
      if (parts.empty()) continue;
      tickpath::exsim::Fault f{};
      if (parts[0] == "pause") sim.pause(true);
      else if (parts[0] == "resume") sim.pause(false);
      else if (parts[0] == "stats") print_stats(sim.stats());
      else if (tickpath::exsim::parse_fault(parts[0], f)) sim.inject(f, parts.size() > 1 ? std::atof(parts[1].c_str()) : 0);
      else std::fprintf(stderr, "exsim: unknown command '%s'\n", parts[0].c_str());
    }
  });
  commands.detach();  // a blocking read of stdin; the process ends without it
  auto next = std::chrono::steady_clock::now();
  while (!g_stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (stats_every > 0 && std::chrono::steady_clock::now() >= next) {
      next += std::chrono::milliseconds(static_cast<long>(stats_every * 1000));
      print_stats(sim.stats());
    }
  }
  sim.stop();
  print_stats(sim.stats());
  return 0;
}
