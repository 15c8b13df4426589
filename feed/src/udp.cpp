#include "tickpath/feed/udp.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tickpath::feed {

namespace {
bool is_multicast(const in_addr& a) { return (ntohl(a.s_addr) >> 28) == 0xE; }
std::string sys_error(const std::string& what) { return what + ": " + std::strerror(errno); }
}  // namespace

UdpReceiver::UdpReceiver() = default;

UdpReceiver::~UdpReceiver() {
  if (fd_ >= 0) ::close(fd_);
}

bool UdpReceiver::open(const UdpOptions& opts, std::string& error) {
  opts_ = opts;
  in_addr group{}, iface{};
  if (::inet_pton(AF_INET, opts.group.c_str(), &group) != 1) return error = "bad UDP address " + opts.group, false;
  if (::inet_pton(AF_INET, opts.interface.c_str(), &iface) != 1) return error = "bad interface address " + opts.interface, false;
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return error = sys_error("cannot create a UDP socket"), false;
  const int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (opts.recv_buffer_bytes > 0)
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &opts.recv_buffer_bytes, sizeof opts.recv_buffer_bytes);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(opts.port);
  addr.sin_addr = group;  // a multicast group is bound by its address: only its datagrams arrive
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return error = sys_error("cannot bind UDP " + opts.group + ":" + std::to_string(opts.port)), false;
  if (is_multicast(group)) {
    ip_mreq mreq{};
    mreq.imr_multiaddr = group;
    mreq.imr_interface = iface;
    if (::setsockopt(fd_, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0)
      return error = sys_error("cannot join multicast group " + opts.group + " on " + opts.interface), false;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  // Slots: one datagram each, followed by the parser's padding; one mapping.
  stride_ = (opts.max_datagram + kPadding + 63) & ~std::size_t{63};
  mem_ = RxMemory(stride_ * opts.batch, opts.huge_pages);
  msgs_ = std::make_unique<mmsghdr[]>(opts.batch);
  iov_ = std::make_unique<iovec[]>(opts.batch);
  for (std::size_t i = 0; i < opts.batch; ++i) {
    iov_[i].iov_base = slot(static_cast<int>(i));
    iov_[i].iov_len = opts.max_datagram;
    std::memset(&msgs_[i], 0, sizeof(mmsghdr));
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  return true;
}

int UdpReceiver::receive() noexcept {
  const int n = ::recvmmsg(fd_, msgs_.get(), static_cast<unsigned>(opts_.batch), MSG_DONTWAIT, nullptr);
  if (n <= 0) return 0;
  counters_.batches.store(counters_.batches.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return n;
}

std::size_t UdpReceiver::datagram_len(int i) noexcept {
  mmsghdr& m = msgs_[i];
  const std::size_t len = m.msg_len;
  const bool truncated = (m.msg_hdr.msg_flags & MSG_TRUNC) != 0;
  m.msg_hdr.msg_flags = 0;
  if (truncated) {
    counters_.truncated.store(counters_.truncated.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return kTruncated;
  }
  counters_.datagrams.store(counters_.datagrams.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  counters_.bytes.store(counters_.bytes.load(std::memory_order_relaxed) + len, std::memory_order_relaxed);
  return len;
}

bool UdpReceiver::wait_readable(int timeout_ms) noexcept {
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0;
}

UdpSender::~UdpSender() {
  if (fd_ >= 0) ::close(fd_);
}

bool UdpSender::open(const UdpOptions& opts, std::uint16_t port, std::string& error) {
  ignore_sigpipe();
  in_addr group{}, iface{};
  if (::inet_pton(AF_INET, opts.group.c_str(), &group) != 1) return error = "bad UDP address " + opts.group, false;
  if (::inet_pton(AF_INET, opts.interface.c_str(), &iface) != 1) return error = "bad interface address " + opts.interface, false;
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return error = sys_error("cannot create a UDP socket"), false;
  if (is_multicast(group)) {
    const unsigned char loop = 1, ttl = 1;
    ::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
    ::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    if (::setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &iface, sizeof iface) != 0)
      return error = sys_error("cannot send multicast from " + opts.interface), false;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr = group;
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
    return error = sys_error("cannot address UDP " + opts.group), false;
  batch_ = opts.batch;
  msgs_ = std::make_unique<mmsghdr[]>(batch_);
  iov_ = std::make_unique<iovec[]>(batch_);
  return true;
}

std::size_t UdpSender::send_batch(const std::string_view* msgs, std::size_t n) noexcept {
  std::size_t sent = 0;
  while (sent < n) {
    const std::size_t k = std::min(batch_, n - sent);
    for (std::size_t i = 0; i < k; ++i) {
      iov_[i].iov_base = const_cast<char*>(msgs[sent + i].data());
      iov_[i].iov_len = msgs[sent + i].size();
      std::memset(&msgs_[i], 0, sizeof(mmsghdr));
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
    }
    const int r = ::sendmmsg(fd_, msgs_.get(), static_cast<unsigned>(k), 0);
    if (r <= 0) break;
    sent += static_cast<std::size_t>(r);
  }
  return sent;
}

}  // namespace tickpath::feed
