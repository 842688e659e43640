#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "host/common/error.h"
#include "host/server/config.h"
#include "host/server/serve.h"
#include "host/server/server.h"

namespace hashmatch::cli {
namespace {

void usage(FILE* out) {
  std::fprintf(out,
               "usage: hashmatch serve [--config FILE] [--print-config] [--SETTING VALUE ...]\n"
               "  The hash-matching server: HTTP/1.1 JSON API (docs/openapi.yaml) with dynamic\n"
               "  batching onto the PDQ and matching backends, and Prometheus metrics.\n"
               "  Every setting has a YAML key, a flag and an environment variable; precedence:\n"
               "  default < --config file (or HASHMATCH_CONFIG) < environment < flag.\n"
               "  Signals: SIGTERM/SIGINT drain and exit; SIGHUP reloads configuration, tokens\n"
               "  and lists. docs/server.md has the details.\n\n"
               "  --config FILE        YAML configuration file\n"
               "  --print-config       print the effective configuration and exit\n");
  for (const server::SettingInfo& s : server::settings()) {
    const std::string f = "--" + s.flag + (s.boolean ? "" : " V");
    std::fprintf(out, "  %-26s %s [%s%s]\n", f.c_str(), s.help.c_str(), s.env.c_str(),
                 s.reloadable ? ", SIGHUP" : "");
  }
}

}  // namespace

int cmd_serve(const std::vector<std::string>& args) {
  std::string config_file;
  if (const char* e = std::getenv("HASHMATCH_CONFIG")) config_file = e;
  bool print = false;
  std::vector<std::pair<std::string, std::string>> flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    }
    if (a == "--print-config") {
      print = true;
      continue;
    }
    if (a.rfind("--", 0) != 0) throw InvalidArgument("unexpected argument '" + a + "'");
    std::string name = a.substr(2), value;
    bool have_value = false;
    if (const auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      have_value = true;
    }
    bool boolean = false;
    bool known = name == "config";
    for (const server::SettingInfo& s : server::settings()) {
      if (s.flag == name) {
        known = true;
        boolean = s.boolean;
      }
    }
    if (!known) throw InvalidArgument("unknown option --" + name + " (hashmatch serve --help)");
    if (!have_value) {
      if (boolean && (i + 1 >= args.size() || args[i + 1].rfind("--", 0) == 0)) {
        value = "true";
      } else {
        if (i + 1 >= args.size()) throw InvalidArgument("--" + name + " needs a value");
        value = args[++i];
      }
    }
    if (name == "config") {
      config_file = value;
    } else {
      flags.emplace_back(name, value);
    }
  }

  server::ServerConfig cfg =
      server::load_config(config_file, flags, server::hashmatch_environment());
  if (print) {
    std::fputs(server::to_yaml(cfg).c_str(), stdout);
    return 0;
  }

  // Signals are taken by this thread with sigwait: block them before any other thread exists so
  // that every thread inherits the mask. SIGPIPE (a client gone mid-response) is ignored.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  server::Server srv(std::move(cfg), flags);
  srv.start();
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGHUP) {
      server::Server::log("SIGHUP: reloading");
      srv.reload();
      continue;
    }
    server::Server::log(std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": shutting down");
    const bool clean = srv.drain();
    std::fflush(stdout);
    std::fflush(stderr);
    // Exit without running destructors of what may still be busy after an unclean drain.
    std::_Exit(clean ? 0 : 1);
  }
}

}  // namespace hashmatch::cli
