#include "server/epoch.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace concierge::server {
namespace {

TEST(EpochDomainTest, CollectFreesWhenNoReaderIsActive) {
  EpochDomain domain;
  int freed = 0;
  domain.Retire([&] { ++freed; });
  domain.Retire([&] { ++freed; });
  EXPECT_EQ(domain.pending(), 2u);
  EXPECT_EQ(freed, 0);
  domain.Collect();
  EXPECT_EQ(freed, 2);
  EXPECT_EQ(domain.pending(), 0u);
  domain.Collect();
  EXPECT_EQ(freed, 2);
}

TEST(EpochDomainTest, AFinishedReadSectionDoesNotDelayFrees) {
  EpochDomain domain;
  { EpochDomain::ReadGuard guard(domain); }
  int freed = 0;
  domain.Retire([&] { ++freed; });
  domain.Collect();
  EXPECT_EQ(freed, 1);
}

TEST(EpochDomainTest, ReaderThatEnteredBeforeRetireDelaysTheFree) {
  EpochDomain domain;
  std::promise<void> entered;
  std::promise<void> leave;
  std::thread reader([&] {
    EpochDomain::ReadGuard guard(domain);
    entered.set_value();
    leave.get_future().wait();
  });
  entered.get_future().wait();

  int freed = 0;
  domain.Retire([&] { ++freed; });
  domain.Collect();
  EXPECT_EQ(freed, 0);
  EXPECT_EQ(domain.pending(), 1u);

  leave.set_value();
  reader.join();
  domain.Collect();
  EXPECT_EQ(freed, 1);
}

TEST(EpochDomainTest, ReaderThatEnteredAfterRetireDoesNotDelayIt) {
  EpochDomain domain;
  int early = 0;
  int late = 0;
  domain.Retire([&] { ++early; });
  std::promise<void> entered;
  std::promise<void> leave;
  std::thread reader([&] {
    EpochDomain::ReadGuard guard(domain);
    entered.set_value();
    leave.get_future().wait();
  });
  entered.get_future().wait();
  domain.Retire([&] { ++late; });
  domain.Collect();
  EXPECT_EQ(early, 1);
  EXPECT_EQ(late, 0);
  leave.set_value();
  reader.join();
  domain.Collect();
  EXPECT_EQ(late, 1);
}

TEST(EpochDomainTest, NestedReadSectionsProtectUntilTheOuterOneEnds) {
  EpochDomain domain;
  std::promise<void> inner_done;
  std::promise<void> leave;
  std::thread reader([&] {
    EpochDomain::ReadGuard outer(domain);
    { EpochDomain::ReadGuard inner(domain); }
    inner_done.set_value();
    leave.get_future().wait();
  });
  inner_done.get_future().wait();
  int freed = 0;
  domain.Retire([&] { ++freed; });
  domain.Collect();
  EXPECT_EQ(freed, 0) << "the end of a nested section ended the outer one";
  leave.set_value();
  reader.join();
  domain.Collect();
  EXPECT_EQ(freed, 1);
}

TEST(EpochDomainTest, DomainsAreIndependent) {
  EpochDomain a;
  EpochDomain b;
  std::promise<void> entered;
  std::promise<void> leave;
  std::thread reader([&] {
    EpochDomain::ReadGuard guard(a);
    entered.set_value();
    leave.get_future().wait();
  });
  entered.get_future().wait();
  int freed = 0;
  b.Retire([&] { ++freed; });
  b.Collect();
  EXPECT_EQ(freed, 1);
  leave.set_value();
  reader.join();
}

TEST(EpochDomainTest, DestructorRunsPendingFrees) {
  int freed = 0;
  {
    EpochDomain domain;
    domain.Retire([&] { ++freed; });
    domain.Retire([&] { ++freed; });
  }
  EXPECT_EQ(freed, 2);
}

}  // namespace
}  // namespace concierge::server
