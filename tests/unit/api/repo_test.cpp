// Repository mappings: the owner/name a clone URL names, name checks, the PUT body, and how
// a mapping gives a job its group.
#include "api/repo.h"

#include <gtest/gtest.h>

namespace corral {
namespace {

TEST(RepoFullName, FromTheUsualCloneUrls) {
  EXPECT_EQ(repo_full_name_from_url("https://github.com/octo-org/hello-world"),
            "octo-org/hello-world");
  EXPECT_EQ(repo_full_name_from_url("https://github.com/Octo-Org/Hello.World.git"),
            "octo-org/hello.world");
  EXPECT_EQ(repo_full_name_from_url("https://github.com/o/n/"), "o/n");
  EXPECT_EQ(repo_full_name_from_url("http://git.example.com:8080/o/n.git"), "o/n");
  EXPECT_EQ(repo_full_name_from_url("https://token@github.com/o/n.git"), "o/n");
  EXPECT_EQ(repo_full_name_from_url("git@github.com:o/n.git"), "o/n");
  EXPECT_EQ(repo_full_name_from_url("github.com:o/n"), "o/n");
  EXPECT_EQ(repo_full_name_from_url("ssh://git@github.com:22/o/n.git"), "o/n");
  EXPECT_EQ(repo_full_name_from_url("git://example.com/o/n"), "o/n");
  // GitLab subgroups: the last two segments.
  EXPECT_EQ(repo_full_name_from_url("https://gitlab.com/group/sub/n.git"), "sub/n");
}

TEST(RepoFullName, LocalPathsAndOddUrlsNameNoRepository) {
  EXPECT_EQ(repo_full_name_from_url("/srv/git/o/n.git"), std::nullopt);
  EXPECT_EQ(repo_full_name_from_url("./o/n"), std::nullopt);
  EXPECT_EQ(repo_full_name_from_url("file:///srv/git/o/n.git"), std::nullopt);
  EXPECT_EQ(repo_full_name_from_url("https://github.com/only-owner"), std::nullopt);
  EXPECT_EQ(repo_full_name_from_url("https://github.com"), std::nullopt);
  EXPECT_EQ(repo_full_name_from_url("git@github.com:n.git"), std::nullopt);
  EXPECT_EQ(repo_full_name_from_url("https://github.com/o/bad name"), std::nullopt);
  EXPECT_EQ(repo_full_name_from_url(""), std::nullopt);
}

TEST(RepoFullName, NormalizeChecksBothPartsAndSaysHow) {
  EXPECT_EQ(normalize_repo_full_name("Octo", "Repo.git").value(), "octo/repo");
  auto bad = normalize_repo_full_name("octo", "..");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
  EXPECT_NE(bad.error().message.find("repository name '..' is not valid"), std::string::npos)
      << bad.error().message;
  EXPECT_FALSE(normalize_repo_full_name("o o", "n").ok());
  EXPECT_FALSE(normalize_repo_full_name("", "n").ok());
}

TEST(RepoMappingBody, GroupAndStewardByRunnerOrGroup) {
  RepoMapping m;
  ASSERT_TRUE(
      parse_repo_mapping_body({{"group", "team"}, {"steward", {{"runner", "night-box"}}}}, m).ok());
  EXPECT_EQ(m.group, "team");
  EXPECT_EQ(m.steward_runner, "night-box");
  EXPECT_TRUE(m.steward_group.empty());
  ASSERT_TRUE(
      parse_repo_mapping_body({{"group", "team"}, {"steward", {{"group", "stewards"}}}}, m).ok());
  EXPECT_TRUE(m.steward_runner.empty());
  EXPECT_EQ(m.steward_group, "stewards");
  ASSERT_TRUE(parse_repo_mapping_body({{"group", "team"}, {"steward", nullptr}}, m).ok());
  EXPECT_FALSE(m.has_steward());
  EXPECT_TRUE(to_json(m)["steward"].is_null());
}

TEST(RepoMappingBody, ErrorsNameTheFieldAndTheFix) {
  RepoMapping m;
  auto both = parse_repo_mapping_body({{"steward", {{"runner", "a"}, {"group", "b"}}}}, m);
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().code, ErrorCode::kInvalidSpec);
  EXPECT_NE(both.error().message.find("field 'steward'"), std::string::npos)
      << both.error().message;
  auto empty = parse_repo_mapping_body(json::object(), m);
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("needs a group, a steward or a webhook_secret"),
            std::string::npos);
  // A webhook secret alone makes a mapping; it is given (or not) so a PUT may keep it.
  ASSERT_TRUE(parse_repo_mapping_body({{"webhook_secret", "s"}}, m).ok());
  EXPECT_EQ(m.webhook_secret, "s");
  EXPECT_TRUE(m.webhook_secret_given);
  ASSERT_TRUE(parse_repo_mapping_body({{"group", "g"}}, m).ok());
  EXPECT_FALSE(m.webhook_secret_given);
  EXPECT_FALSE(parse_repo_mapping_body({{"group", "g"}, {"webhook_secret", 7}}, m).ok());
  auto unknown = parse_repo_mapping_body({{"grop", "x"}}, m);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("field 'grop'"), std::string::npos);
  EXPECT_FALSE(parse_repo_mapping_body({{"group", 3}}, m).ok());
  EXPECT_FALSE(parse_repo_mapping_body({{"group", "has space"}}, m).ok());
}

TEST(ApplyRepoMapping, AJobWithoutAGroupGetsTheMappingsAndSaysSo) {
  RepoMapping m;
  m.full_name = "o/n";
  m.group = "team";
  Job job;
  job.spec.repo = RepoSpec{"https://github.com/O/N.git", "", "", 0};
  apply_repo_mapping(job, &m);
  EXPECT_EQ(job.repo_name, "o/n");
  EXPECT_EQ(job.spec.group, "team");
  EXPECT_EQ(job.group_source, kGroupFromRepo);

  Job own;
  own.spec.repo = RepoSpec{"https://github.com/o/n", "", "", 0};
  own.spec.group = "mine";
  apply_repo_mapping(own, &m);
  EXPECT_EQ(own.spec.group, "mine");
  EXPECT_EQ(own.group_source, kGroupFromJob);

  Job none;
  apply_repo_mapping(none, nullptr);
  EXPECT_TRUE(none.repo_name.empty());
  EXPECT_TRUE(none.group_source.empty());
}

}  // namespace
}  // namespace corral
