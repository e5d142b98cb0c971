"""Print line, word and character counts of a text file, and its most frequent words."""

import argparse
import collections
import re
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    text = args.path.read_text(encoding="utf-8")
    words = re.findall(r"[a-z']+", text.lower())
    print(f"lines: {len(text.splitlines())}")
    print(f"words: {len(words)}")
    print(f"characters: {len(text)}")
    for word, count in collections.Counter(words).most_common(args.top):
        print(f"top: {word} {count}")


if __name__ == "__main__":
    main()
