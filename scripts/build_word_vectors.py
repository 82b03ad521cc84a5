"""Build the word-vector table the NLU pipeline reads (`rasa_addons.word_vectors`), offline.

Run in the Rasa environment, from `scripts/setup.sh`:
    .venv-rasa/bin/python scripts/build_word_vectors.py [--out models/vectors/persent-w2v]
It converts the word2vec model shipped by the pinned `persent` package (PerSent 1.3.3, MIT) into a
NumPy matrix plus a vocabulary file, which the featurizer memory-maps; nothing is downloaded.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rasa_addons.word_vectors import DEFAULT_VECTORS, build_vectors, resolve  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_VECTORS, help="path stem, relative to the repository")
    args = parser.parse_args()
    npy, vocab = build_vectors(resolve(args.out))
    words = sum(1 for _ in vocab.open(encoding="utf-8"))
    print(f"word vectors: {words} words → {npy.relative_to(resolve('.')) if npy.is_relative_to(resolve('.')) else npy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
