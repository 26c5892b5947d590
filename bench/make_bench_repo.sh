#!/usr/bin/env bash
# Makes a local bare repository for the repository cache benchmark (bench/repo_cache.sh):
# COMMITS commits (default 5000), each rewriting one of 250 files with 20 KB of random
# bytes, so that the history packs to about 100 MB (random data neither compresses nor
# deltas) while a checkout is about 5 MB, much like a long-lived code base.
#
#   bench/make_bench_repo.sh DIR [COMMITS] [BYTES_PER_COMMIT]
set -euo pipefail

dir=${1:?usage: make_bench_repo.sh DIR [COMMITS] [BYTES_PER_COMMIT]}
commits=${2:-5000}
bytes=${3:-20000}

rm -rf "$dir"
git init -q --bare "$dir"
# fast-import writes one pack straight away: a few seconds instead of 5,000 `git commit`s.
perl -e '
  my ($commits, $bytes) = @ARGV;
  open(my $random, "<:raw", "/dev/urandom") or die "urandom: $!";
  binmode(STDOUT);
  my $when = 1700000000;
  for my $i (1 .. $commits) {
    read($random, my $data, $bytes) == $bytes or die "short read";
    my $path = sprintf("src/dir%02d/file%03d.bin", $i % 25, $i % 250);
    my $message = "commit $i\n";
    $when += 60;
    print "commit refs/heads/main\n";
    print "committer Bench <bench\@example.com> $when +0000\n";
    print "data ", length($message), "\n", $message;
    print "M 100644 inline $path\n";
    print "data ", length($data), "\n", $data, "\n";
  }
' "$commits" "$bytes" | git -C "$dir" fast-import --quiet
git -C "$dir" symbolic-ref HEAD refs/heads/main
