#include "common/redact.h"

#include <gtest/gtest.h>

namespace corral {
namespace {

// Feeds text to a masker in pieces of `step` bytes, as a log arrives.
std::string stream_through(SecretMasker masker, std::string_view text, size_t step) {
  std::string out;
  for (size_t i = 0; i < text.size(); i += step) out += masker.push(text.substr(i, step));
  return out + masker.finish();
}

TEST(SecretMasker, MasksEveryOccurrence) {
  SecretMasker masker({"s3cr3t"});
  EXPECT_EQ(masker.mask("a s3cr3t b s3cr3ts3cr3t\n"), "a *** b ******\n");
}

TEST(SecretMasker, LeavesTextWithoutSecretsAlone) {
  SecretMasker masker({"hunter2"});
  EXPECT_EQ(masker.mask("hunter hunter3 hunte\n"), "hunter hunter3 hunte\n");
  SecretMasker none;
  EXPECT_EQ(stream_through(none, "plain\n", 2), "plain\n");
}

TEST(SecretMasker, AValueSplitAcrossChunksIsMaskedAtEveryCut) {
  const std::string text = "token=abcdef123456 and again abcdef123456.\n";
  for (size_t step = 1; step <= text.size(); ++step) {
    SecretMasker masker({"abcdef123456"});
    EXPECT_EQ(stream_through(masker, text, step), "token=*** and again ***.\n")
        << "chunks of " << step;
  }
}

TEST(SecretMasker, HoldsBackOnlyWhatCouldStartASecret) {
  SecretMasker masker({"XYZW"});
  EXPECT_EQ(masker.push("hello XY"), "hello ");  // "XY" may begin the secret
  EXPECT_EQ(masker.push("Q\n"), "XYQ\n");
  EXPECT_EQ(masker.push("end X"), "end ");
  EXPECT_EQ(masker.finish(), "X");
}

TEST(SecretMasker, MultiLineValuesAreMaskedWholeAndLineByLine) {
  SecretMasker masker({"-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----"});
  EXPECT_EQ(masker.mask("k=-----BEGIN KEY-----\nAAAABBBBCCCC\n-----END KEY-----\n"), "k=***\n");
  // Printed re-indented, or one line at a time: each line still goes.
  EXPECT_EQ(masker.mask("  AAAABBBBCCCC\r\n"), "  ***\r\n");
  for (size_t step = 1; step < 9; ++step) {
    EXPECT_EQ(stream_through(masker, "x -----END KEY----- y\n", step), "x *** y\n");
  }
}

TEST(SecretMasker, TheLongerOfTwoOverlappingValuesWins) {
  SecretMasker masker({"abc", "abcdef"});
  EXPECT_EQ(masker.mask("abcdef abc abcde\n"), "*** *** ***de\n");
  // "abc" at a chunk's end waits: it may be the start of "abcdef", whose tail must not leak.
  EXPECT_EQ(stream_through(masker, "xabcdefx\n", 4), "x***x\n");
}

TEST(Redact, UrlsLoseTheirUserinfo) {
  EXPECT_EQ(without_userinfo("https://user:pa55@git.example.com/o/r.git"),
            "https://***@git.example.com/o/r.git");
  EXPECT_EQ(without_userinfo("https://x-access-token@host/r"), "https://***@host/r");
  EXPECT_EQ(without_userinfo("https://host/a@b"),
            "https://host/a@b");  // '@' in the path is not userinfo
  EXPECT_EQ(without_userinfo("/srv/repo.git"), "/srv/repo.git");
  EXPECT_EQ(url_credential("https://user:pa55@host/r"), "pa55");
  EXPECT_EQ(url_credential("https://tok3n@host/r"), "tok3n");
  EXPECT_EQ(url_credential("https://host/r"), "");
}

}  // namespace
}  // namespace corral
