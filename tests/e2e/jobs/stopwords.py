"""Word counts without stop words: a job with an int and a str option and a side file."""

from __future__ import annotations

import re

import minimr
from minimr import Job, Option

WORD = re.compile(r"[a-z]+")


class StopWordCount(Job):
    """Counts of the words that are not in ``stop_words.txt`` (shipped beside this file)."""

    options = [
        Option("--min-count", type=int, default=1, help="Keep words seen at least this often."),
        Option("--prefix", default="", help="Count only the words that start so."),
        Option("--more-stop-words", default="", help="The name of another shipped file of"
               " stop words (--file PATH)."),
        Option("--fail-on", default="", help="Raise on a line holding this word."),
    ]
    files = ["stop_words.txt"]

    def setup(self):
        """Read the stop words: the job's file from the working directory, another by name."""
        with open("stop_words.txt") as file:
            self.stop = set(file.read().split())
        if self.options.more_stop_words:
            with open(minimr.side_file(self.options.more_stop_words)) as file:
                self.stop |= set(file.read().split())

    def map(self, key, line):
        """Yield ``(word, 1)`` for each word kept."""
        words = WORD.findall(line.lower())
        if self.options.fail_on and self.options.fail_on in words:
            raise ValueError(f"found {self.options.fail_on!r} at {key[1]}")
        for word in words:
            if word not in self.stop and word.startswith(self.options.prefix):
                yield word, 1

    def combine(self, word, counts):
        """Partial sums."""
        yield word, sum(counts)

    def reduce(self, word, counts):
        """The total, when it reaches ``--min-count``."""
        total = sum(counts)
        if total >= self.options.min_count:
            yield word, total
