// What ACLs cost a request: the SHA-256 of the token's secret, the lookup among the tokens'
// hashes with the constant-time comparison, and the rule check (src/http/acl_api.cc does the
// same steps). See BENCHMARKS.md.
#include <benchmark/benchmark.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "core/acl.h"
#include "core/catalog.h"

namespace concierge {
namespace {

using core::AclAccess;
using core::AclResource;

std::string Sha256(std::string_view s) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(s.data(), s.size(), digest, &size, EVP_sha256(), nullptr);
  return {reinterpret_cast<const char*>(digest), size};
}

std::string Secret(int i) { return "3f2a1c9e-0000-4000-8000-" + std::to_string(100000000000 + i); }

// `tokens` tokens, each linked to one policy of two rules.
core::Catalog WithTokens(int tokens) {
  core::Catalog catalog;
  core::Index index = 1;
  core::AclPolicy policy;
  policy.id = "p";
  policy.name = "web";
  policy.rules.rules = {{AclResource::kService, false, "web", AclAccess::kWrite},
                        {AclResource::kService, true, "", AclAccess::kRead}};
  (void)catalog.Apply(core::AclSetPolicy{policy, true, {}}, ++index);
  for (int i = 0; i < tokens; ++i) {
    core::AclToken t;
    t.accessor_id = "a" + std::to_string(i);
    t.secret_hash = Sha256(Secret(i));
    t.policy_ids = {"p"};
    (void)catalog.Apply(core::AclSetToken{t, true, {}}, ++index);
  }
  return catalog;
}

void BM_Sha256OfSecret(benchmark::State& state) {
  std::string secret = Secret(7);
  for (auto _ : state) benchmark::DoNotOptimize(Sha256(secret));
}
BENCHMARK(BM_Sha256OfSecret);

void BM_ResolveAndCheck(benchmark::State& state) {
  core::Catalog catalog = WithTokens(static_cast<int>(state.range(0)));
  core::AclTokenIndex index(catalog.acl(), false);
  std::string secret = Secret(static_cast<int>(state.range(0)) / 2);
  for (auto _ : state) {
    std::string hash = Sha256(secret);
    bool allowed = false;
    for (const auto* e : index.Candidates(hash)) {
      allowed = CRYPTO_memcmp(e->secret_hash.data(), hash.data(), hash.size()) == 0 &&
                e->authorizer->Allowed(AclResource::kService, "web",
                                       core::AclAuthorizer::Permission::kWrite);
    }
    if (!allowed) state.SkipWithError("the token was not found");
    benchmark::DoNotOptimize(allowed);
  }
}
BENCHMARK(BM_ResolveAndCheck)->Arg(10)->Arg(10000);

}  // namespace
}  // namespace concierge

BENCHMARK_MAIN();
