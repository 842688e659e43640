// The HTTP edge of `hashmatch serve`, spoken to over raw sockets: what a connection carries after a
// refused body (nothing more: it is closed), the listen backlog, the access log's escaping and the
// validation of /v1/match/hashes fields.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "host/lists/list_store.h"
#include "host/server/config.h"
#include "host/server/server.h"
#include "tests/testutil/testutil.h"
#include "video/synth_clip.h"

namespace hashmatch::server {
namespace {

using namespace std::chrono_literals;

// A TCP connection to 127.0.0.1:port.
class Conn {
 public:
  explicit Conn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  bool ok() const { return ok_; }

  // Sends all of `data`; false when the peer closed (a refused body may be cut short).
  bool send_all(const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Reads until the peer closes or nothing arrives for `quiet`; *closed says which.
  std::string read_all(std::chrono::milliseconds quiet, bool* closed) {
    std::string out;
    *closed = false;
    char buf[65536];
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(quiet.count())) <= 0) return out;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        *closed = true;  // EOF, or a reset (the server closed with our bytes unread)
        return out;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

std::size_t count(const std::string& s, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

// The backlog of the IPv4 TCP socket listening on `port` (what `ss -ltn` shows as Send-Q), asked
// from the kernel through sock_diag; -1 when it cannot be asked.
int listen_backlog(int port) {
  const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -1;
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } q{};
  q.nlh.nlmsg_len = sizeof q;
  q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  q.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  q.req.sdiag_family = AF_INET;
  q.req.sdiag_protocol = IPPROTO_TCP;
  q.req.idiag_states = 1u << TCP_LISTEN;
  int found = -1;
  if (::send(fd, &q, sizeof q, 0) == static_cast<ssize_t>(sizeof q)) {
    alignas(nlmsghdr) char buf[1 << 15];
    bool done = false;
    while (!done) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
          done = true;
          break;
        }
        const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
        if (ntohs(m->id.idiag_sport) == port) found = static_cast<int>(m->idiag_wqueue);
      }
    }
  }
  ::close(fd);
  return found;
}

class ServerHttp : public ::testing::Test {
 protected:
  void start(ServerConfig cfg = {}) {
    cfg.db = (dir_ / "lists.db").string();
    cfg.listen = "127.0.0.1:0";
    if (cfg.metrics_listen == ServerConfig{}.metrics_listen) cfg.metrics_listen = "off";
    cfg.backend = "cpu";
    cfg.match_backend = "cpu";
    cfg.reload_interval = Seconds(0);
    cfg.keep_alive_timeout = Seconds(10);
    srv_ = std::make_unique<Server>(cfg, std::vector<std::pair<std::string, std::string>>{});
    srv_->start();
    srv_->wait_lists_loaded();
  }
  test::TempDir dir_;
  std::unique_ptr<Server> srv_;
};

// A request hidden in a chunked body past limits.max_body_bytes: the server answers 413 and
// closes the connection; the rest of the body is never parsed as requests.
TEST_F(ServerHttp, NothingAfterAnOversizedChunkedBodyIsTakenForARequest) {
  ServerConfig cfg;
  cfg.max_body_bytes = 100 * 1024;
  start(cfg);
  const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: SMUGGLED\r\n\r\n";
  std::string body(cfg.max_body_bytes + 1, 'A');
  // Wherever the server stops reading, whole requests follow.
  for (int i = 0; i < 400; ++i) body += smuggled;
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", body.size());
  Conn c(srv_->port());
  ASSERT_TRUE(c.ok());
  c.send_all("POST /v1/hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
             std::string(size) + body + "\r\n0\r\n\r\n");
  bool closed = false;
  const std::string got = c.read_all(3000ms, &closed);
  EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got.substr(0, 200);
  EXPECT_NE(got.find("\"payload_too_large\""), std::string::npos) << "the body is sent whole";
  EXPECT_EQ(count(got, "HTTP/1.1 "), 1u) << "answers after the 413: " << got.substr(0, 2000);
  EXPECT_EQ(got.find("SMUGGLED"), std::string::npos) << "a request from the body was answered";
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
  EXPECT_EQ(got.find("Keep-Alive"), std::string::npos) << "the 413 offers keep-alive";
  EXPECT_TRUE(closed) << "the connection stays open after the refused body";
}

// The listen backlog is http.listen_backlog (httplib's own is 5: bursts of connections were reset).
TEST_F(ServerHttp, ListensWithTheConfiguredBacklog) {
  ServerConfig cfg;
  cfg.listen_backlog = 300;
  start(cfg);
  const int got = listen_backlog(srv_->port());
  if (got < 0) GTEST_SKIP() << "sock_diag (netlink) is not available here";
  EXPECT_EQ(got, 300);
}

// The value of the sample `name` in Prometheus text (-1 when absent).
double metric(const std::string& text, const std::string& name) {
  const std::size_t p = text.find("\n" + name + " ");
  if (p == std::string::npos) return -1;
  return std::stod(text.substr(p + name.size() + 2));
}

// hashmatch_matches_total counts the matches reported: a video whose frames all fall within the
// threshold of one list entry is one match (with frames_matched), not one per frame.
TEST_F(ServerHttp, MatchesTotalCountsReportedMatchesNotMatchingFrames) {
  {
    ListStore store((dir_ / "lists.db").string());
    store.create_list("L");
    std::mt19937_64 rng(9);
    Hash256 h;
    for (auto& w : h.w) w = rng();
    store.add_entries("L", {NewEntry{HashValue::from_hash256(h), "e1", {}}});
  }
  video::SynthClipSpec spec;
  spec.width = 160;
  spec.height = 120;
  spec.fps_num = 10;
  spec.frames = 12;
  spec.pattern = 4;
  const std::string clip = (dir_ / "clip.mp4").string();
  video::write_synth_clip(clip, spec);
  ServerConfig cfg;
  cfg.metrics_listen = "127.0.0.1:0";
  cfg.min_quality = 0;
  cfg.video_seconds_per_hash = 0;  // every frame
  start(cfg);
  const auto bytes = test::read_file(clip);
  httplib::Client api("127.0.0.1", srv_->port());
  // Threshold 256: every frame is within it of the entry.
  const auto r = api.Post("/v1/match?threshold=256", std::string(bytes.begin(), bytes.end()),
                          "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const auto j = nlohmann::json::parse(r->body);
  ASSERT_EQ(j["matches"].size(), 1u) << r->body.substr(0, 2000);
  EXPECT_GT(j["matches"][0]["video"]["frames_matched"].get<int>(), 1);
  httplib::Client prom("127.0.0.1", srv_->metrics_port());
  const auto m = prom.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(metric(m->body, "hashmatch_matches_total{list=\"L\"}"), 1.0);
}

// Standard error redirected to a file for a scope.
class CaptureStderr {
 public:
  explicit CaptureStderr(const std::string& path) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~CaptureStderr() {
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
  }
  CaptureStderr(const CaptureStderr&) = delete;
  CaptureStderr& operator=(const CaptureStderr&) = delete;

 private:
  int saved_ = -1;
};

// A URL with %0A cannot add a line of its own to the access log (anyone could, even without a
// token): the logged path is percent-encoded.
TEST_F(ServerHttp, AccessLogEscapesControlCharacters) {
  ServerConfig cfg;
  cfg.access_log = true;
  const std::string log = (dir_ / "stderr.log").string();
  {
    CaptureStderr capture(log);
    start(cfg);
    httplib::Client api("127.0.0.1", srv_->port());
    const auto r = api.Get("/v1/lists/x%0Ahashmatch%20serve:%20FORGED%0D%1B[2J");
    ASSERT_TRUE(r);
    srv_.reset();
  }
  std::ifstream in(log);
  std::string line, access;
  while (std::getline(in, line)) {
    if (line.find("FORGED") != std::string::npos) {
      EXPECT_NE(line.find("access"), std::string::npos) << "a line of its own: " << line;
    }
    EXPECT_EQ(line.find('\r'), std::string::npos) << line;
    EXPECT_EQ(line.find('\x1b'), std::string::npos) << line;
    if (line.find("access") != std::string::npos) access = line;
  }
  EXPECT_NE(access.find(" GET /v1/lists/x%0Ahashmatch%20serve:%20FORGED%0D%1B[2J 404 "),
            std::string::npos)
      << access;
}

// /v1/match/hashes reads quality and threshold without wrapping: out of range is a 400.
TEST_F(ServerHttp, MatchHashesRefusesOutOfRangeQualityAndThreshold) {
  start();
  httplib::Client api("127.0.0.1", srv_->port());
  const std::string pdq = "\"" + std::string(64, 'a') + "\"";
  auto post = [&](const std::string& body) {
    const auto r = api.Post("/v1/match/hashes", body, "application/json");
    EXPECT_TRUE(r);
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  };
  for (const char* q :
       {"4294967346", "-1", "101", "18446744073709551615", "-9223372036854775808"}) {
    const auto [status, body] =
        post("{\"hashes\": [{\"pdq\": " + pdq + ", \"quality\": " + q + "}]}");
    EXPECT_EQ(status, 400) << "quality " << q << ": " << body;
    EXPECT_NE(body.find("bad_hash"), std::string::npos) << body;
  }
  for (const char* q : {"0", "50", "100"}) {
    const auto [status, body] =
        post("{\"hashes\": [{\"pdq\": " + pdq + ", \"quality\": " + q + "}]}");
    EXPECT_EQ(status, 200) << "quality " << q << ": " << body;
  }
  const auto [status, body] =
      post("{\"hashes\": [" + pdq + "], \"threshold\": 18446744073709551615}");
  EXPECT_EQ(status, 400) << body;
  EXPECT_NE(body.find("18446744073709551615"), std::string::npos) << body;
}

// Requests whose bodies were read keep their connection.
TEST_F(ServerHttp, KeepAliveStaysForRequestsServedInFull) {
  start();
  Conn c(srv_->port());
  ASSERT_TRUE(c.ok());
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string got;
  bool closed = false;
  // One at a time: httplib does not serve pipelined requests before its keep-alive timeout.
  for (const std::string& r : std::vector<std::string>{
           "POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nnoise", get, get}) {
    ASSERT_TRUE(c.send_all(r));
    got += c.read_all(300ms, &closed);
    ASSERT_FALSE(closed) << got;
  }
  EXPECT_EQ(count(got, "HTTP/1.1 400"), 1u) << got;  // bad media, its body read
  EXPECT_EQ(count(got, "HTTP/1.1 200"), 2u) << got;
}

// The same with a body that is never read: refused before reading (401 without a token), or
// refused by its declared length (Expect: 100-continue, answered before the body comes).
TEST_F(ServerHttp, AnUnreadBodyClosesTheConnection) {
  const std::string tokens = (dir_ / "tokens.yaml").string();
  {
    std::FILE* f = std::fopen(tokens.c_str(), "w");
    ASSERT_TRUE(f);
    std::fputs(
        "tokens:\n  - name: t\n    token: \"0123456789abcdef0123456789abcdef\"\n"
        "    scopes: [hash, match]\n",
        f);
    std::fclose(f);
  }
  ServerConfig cfg;
  cfg.max_body_bytes = 64 * 1024;
  cfg.tokens = tokens;
  start(cfg);
  const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: SMUGGLED\r\n\r\n";
  {
    SCOPED_TRACE("401, body unread");
    Conn c(srv_->port());
    ASSERT_TRUE(c.ok());
    c.send_all("POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Length: " +
               std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled);
    bool closed = false;
    const std::string got = c.read_all(3000ms, &closed);
    EXPECT_EQ(got.rfind("HTTP/1.1 401", 0), 0u) << got.substr(0, 200);
    EXPECT_EQ(got.find("SMUGGLED"), std::string::npos) << got;
    EXPECT_TRUE(closed);
  }
  {
    SCOPED_TRACE("Expect: 100-continue, declared over the limit");
    Conn c(srv_->port());
    ASSERT_TRUE(c.ok());
    c.send_all("POST /v1/hash HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
               std::to_string(cfg.max_body_bytes + smuggled.size()) + "\r\n\r\n" + smuggled);
    bool closed = false;
    const std::string got = c.read_all(3000ms, &closed);
    EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got.substr(0, 200);
    EXPECT_EQ(got.find("SMUGGLED"), std::string::npos) << got;
    EXPECT_TRUE(closed);
  }
}

}  // namespace
}  // namespace hashmatch::server
