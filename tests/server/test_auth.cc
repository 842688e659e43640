// Bearer tokens: the token file, scopes, and what each kind of bad header gets.
#include <gtest/gtest.h>

#include <fstream>

#include "host/common/error.h"
#include "host/server/auth.h"
#include "tests/testutil/testutil.h"

namespace hashmatch::server {
namespace {

std::string write(const test::TempDir& d, const std::string& text) {
  const auto p = d / "tokens.yaml";
  std::ofstream(p) << text;
  return p.string();
}

TEST(Auth, TokensAndDigestsWithScopes) {
  test::TempDir d;
  const std::string admin_token = "admin-token-0123456789abcdef";
  const auto store = TokenStore::load(
      write(d,
            "tokens:\n"
            "  - name: pipeline\n    token: pipeline-token-0123456789\n    scopes: [hash, match]\n"
            "  - name: ops\n    sha256: \"" +
                token_digest(admin_token) +
                "\"\n    scopes: [admin]\n"
                "  - name: hasher\n    token: hasher-token-0123456789ab\n    scopes: [hash]\n"));
  EXPECT_TRUE(store->enabled());
  EXPECT_EQ(store->size(), 3u);
  Principal p;
  ASSERT_EQ(store->authenticate("Bearer pipeline-token-0123456789", &p), TokenStore::Result::kOk);
  EXPECT_EQ(p.name, "pipeline");
  EXPECT_TRUE(p.has(Scope::kHash));
  EXPECT_TRUE(p.has(Scope::kMatch));
  EXPECT_FALSE(p.has(Scope::kAdmin));
  ASSERT_EQ(store->authenticate("bearer " + admin_token, &p), TokenStore::Result::kOk);
  EXPECT_EQ(p.name, "ops");
  EXPECT_TRUE(p.has(Scope::kAdmin));
  EXPECT_TRUE(p.has(Scope::kMatch)) << "admin implies the other scopes";
  ASSERT_EQ(store->authenticate("Bearer hasher-token-0123456789ab", &p), TokenStore::Result::kOk);
  EXPECT_FALSE(p.has(Scope::kMatch));

  EXPECT_EQ(store->authenticate("", &p), TokenStore::Result::kMissing);
  EXPECT_EQ(store->authenticate("Bearer pipeline-token-012345678X", &p),
            TokenStore::Result::kUnknown);
  EXPECT_EQ(store->authenticate("Basic dXNlcjpwYXNz", &p), TokenStore::Result::kMalformed);
  EXPECT_EQ(store->authenticate("Bearer ", &p), TokenStore::Result::kMalformed);
}

TEST(Auth, OpenAccessWithoutATokenFile) {
  const auto store = TokenStore::open_access();
  EXPECT_FALSE(store->enabled());
  Principal p;
  EXPECT_EQ(store->authenticate("", &p), TokenStore::Result::kOk);
  EXPECT_EQ(p.name, "anonymous");
  EXPECT_TRUE(p.has(Scope::kAdmin));
}

TEST(Auth, BadTokenFilesAreRejectedWithTheEntry) {
  test::TempDir d;
  auto expect_error = [&](const std::string& text, const std::string& needle) {
    try {
      TokenStore::load(write(d, text));
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("tokens: 3\n", "tokens:");
  expect_error("tokens:\n  - name: a\n    token: short\n    scopes: [hash]\n", "16 characters");
  expect_error("tokens:\n  - name: a\n    token: long-enough-token-123\n    scopes: [root]\n",
               "unknown scope 'root'");
  expect_error("tokens:\n  - name: a\n    token: long-enough-token-123\n", "scopes");
  expect_error("tokens:\n  - name: a\n    sha256: abc\n    scopes: [hash]\n", "64 hex");
  expect_error("tokens:\n  - token: long-enough-token-123\n    scopes: [hash]\n", "tokens[0]");
  expect_error(
      "tokens:\n  - name: a\n    token: long-enough-token-123\n    scopes: [hash]\n"
      "  - name: a\n    token: other-long-token-456\n    scopes: [hash]\n",
      "duplicate name");
  EXPECT_THROW(TokenStore::load((d / "absent.yaml").string()), IoError);
}

}  // namespace
}  // namespace hashmatch::server
