"""Dense word-vector features for DIET from Persian text far larger than our training data.

Why: DIET's sparse features only know the few thousand words of `nlu_data/`. A word2vec model
trained on about a million words of real Persian shop reviews (Digikala comments; the `persent`
package, PerSent 1.3.3, MIT licence, installed pinned by `scripts/setup.sh`) knows that «خراب»,
«شکسته» and «پاره» are alike, or that «ارسال» and «فرستادن» are, so a complaint worded unlike any
training example still lands near the right intent.

The vectors are read once per process from a plain NumPy file memory-mapped read-only (no pickle,
no network at load time). `build_vectors` converts the package's gensim pickle into that file; it
is run by `scripts/build_word_vectors.py` from `scripts/setup.sh`, and lazily here as a fallback,
both offline.

With `review_sentiment: true` the sentence feature also carries PerSent's own verdict on the message
(recommended / not recommended / no opinion: a logistic regression its author trained on thousands of
labelled shop reviews over the same vectors), which is the "is this praise or a complaint" knowledge
our few hundred examples cannot teach. Its weights are exported to NumPy by the same build step, so
nothing is unpickled at run time. Sequence rows get zeros in those three columns (DIET needs one
width for both).

Lookup for a token, in order (PerSent's vocabulary is mostly hazm-stemmed words): the token as
written → hazm's stem → the mean of its half-space parts →
the in-vocabulary word sharing the longest prefix of at least four letters → nothing (a zero vector,
which DIET ignores in the sentence mean).
"""
from __future__ import annotations

import bisect
import logging
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

ZWNJ = "\u200c"
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VECTORS = "models/vectors/persent-w2v"
MIN_PREFIX = 4


def persent_model_file() -> Path:
    """Where the installed `persent` package keeps its word2vec model (no import of PerSent itself:
    its `__init__` builds hazm objects and reads files we do not need)."""
    from importlib.util import find_spec

    spec = find_spec("PerSent")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the persent package is not installed (scripts/setup.sh installs persent==1.3.3)")
    return Path(list(spec.submodule_search_locations)[0]) / "models" / "word2vec.model"


class _LegacyRandomStateUnpickler(pickle.Unpickler):
    """Reads PerSent's gensim pickle under numpy 1.23 (Rasa's pin).

    The pickle was written by a newer numpy whose RandomState constructor takes two arguments; the
    random state is training-time only, so a fresh one is as good.
    """

    def find_class(self, module: str, name: str) -> Any:
        if name == "__randomstate_ctor":
            return lambda *args: np.random.RandomState()
        return super().find_class(module, name)


def build_vectors(out_stem: Path, source: Optional[Path] = None) -> Tuple[Path, Path]:
    """Convert PerSent's word2vec pickle into `<stem>.npy` (float32 matrix) and `<stem>.vocab`
    (one word a line, row order). Deterministic: the same package gives the same bytes."""
    source = source or persent_model_file()
    with source.open("rb") as handle:
        model = _LegacyRandomStateUnpickler(handle, encoding="latin1").load()
    words: List[str] = list(model.wv.index_to_key)
    keep = [i for i, w in enumerate(words) if w and "\n" not in w]
    matrix = np.ascontiguousarray(np.asarray(model.wv.vectors, dtype=np.float32)[keep])
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    npy, vocab = out_stem.with_suffix(".npy"), out_stem.with_suffix(".vocab")
    tmp_npy, tmp_vocab = npy.with_suffix(".npy.tmp"), vocab.with_suffix(".vocab.tmp")
    with tmp_npy.open("wb") as handle:
        np.save(handle, matrix)
    tmp_vocab.write_text("\n".join(words[i] for i in keep) + "\n", encoding="utf-8")
    tmp_npy.replace(npy)
    tmp_vocab.replace(vocab)
    _export_review_classifier(source.parent / "classifier.joblib", sentiment_file(out_stem))
    return npy, vocab


def sentiment_file(stem: Path) -> Path:
    return stem.parent / f"{stem.name}-sentiment.npz"


def _export_review_classifier(source: Path, target: Path) -> None:
    """PerSent's recommendation classifier (multinomial logistic regression over the mean vector)
    as two arrays: softmax(coef · v + intercept) is exactly its predict_proba."""
    import joblib

    classifier = joblib.load(source)
    tmp = target.with_name(target.name + ".tmp.npz")
    np.savez(tmp, coef=np.asarray(classifier.coef_, dtype=np.float32),
             intercept=np.asarray(classifier.intercept_, dtype=np.float32),
             classes=np.array(["not_recommended", "recommended", "no_idea"]))
    tmp.replace(target)


class WordVectors:
    """A read-only word → vector table with Persian-aware fallbacks for unknown words."""

    def __init__(self, matrix: np.ndarray, words: List[str]) -> None:
        self.matrix = matrix
        self.index: Dict[str, int] = {w: i for i, w in enumerate(words)}
        self.sorted_words = sorted(self.index)
        self.dim = int(matrix.shape[1])
        from hazm import Stemmer, stopwords_list

        # No hazm Lemmatizer: it costs about 150 MB of memory and found 3 of 12,000 training tokens.
        self._stemmer = Stemmer()
        self._stopwords = frozenset(stopwords_list())
        self.sentiment_coef: Optional[np.ndarray] = None
        self.sentiment_intercept: Optional[np.ndarray] = None

    def review_sentiment(self, words: List[str]) -> np.ndarray:
        """PerSent's probabilities (not recommended, recommended, no opinion) for a message, computed
        the way PerSent does: stop words dropped, every other word stemmed, unknown stems as zeros."""
        assert self.sentiment_coef is not None and self.sentiment_intercept is not None
        rows = []
        for word in words:
            if word in self._stopwords or len(word) <= 1:
                continue
            row = self._row(self._stemmer.stem(word))
            rows.append(np.asarray(self.matrix[row], dtype=np.float32) if row is not None else np.zeros(self.dim, np.float32))
        mean = np.mean(rows, axis=0) if rows else np.zeros(self.dim, np.float32)
        logits = self.sentiment_coef @ mean + self.sentiment_intercept
        odds = np.exp(logits - logits.max())
        return (odds / odds.sum()).astype(np.float32)

    @classmethod
    def load(cls, stem: Path) -> "WordVectors":
        npy, vocab = stem.with_suffix(".npy"), stem.with_suffix(".vocab")
        if not npy.exists() or not vocab.exists() or not sentiment_file(stem).exists():
            logger.info("word vectors not built yet; converting the installed persent model (offline)")
            build_vectors(stem)
        matrix = np.load(npy, mmap_mode="r")
        words = vocab.read_text(encoding="utf-8").split("\n")[: matrix.shape[0]]
        table = cls(matrix, words)
        if sentiment_file(stem).exists():
            with np.load(sentiment_file(stem)) as arrays:
                table.sentiment_coef, table.sentiment_intercept = arrays["coef"], arrays["intercept"]
        return table

    def _row(self, word: str) -> Optional[int]:
        return self.index.get(word)

    def lookup(self, token: str) -> Tuple[Optional[np.ndarray], str]:
        """Return (vector or None, how it was found) for one token."""
        for how, candidate in (("surface", token), ("stem", self._stemmer.stem(token))):
            row = self._row(candidate) if candidate else None
            if row is not None:
                return np.asarray(self.matrix[row], dtype=np.float32), how
        if ZWNJ in token:
            parts = [self.lookup(part)[0] for part in token.split(ZWNJ) if part]
            found = [p for p in parts if p is not None]
            if found:
                return np.mean(found, axis=0).astype(np.float32), "parts"
        if len(token) >= MIN_PREFIX:
            row = self._longest_prefix(token)
            if row is not None:
                return np.asarray(self.matrix[row], dtype=np.float32), "prefix"
        return None, "oov"

    def _longest_prefix(self, token: str) -> Optional[int]:
        """The in-vocabulary word sharing the longest prefix (≥ MIN_PREFIX letters) with `token`,
        found by binary search in the sorted vocabulary: O(len(token) · log V)."""
        for size in range(len(token), MIN_PREFIX - 1, -1):
            prefix = token[:size]
            at = bisect.bisect_left(self.sorted_words, prefix)
            if at < len(self.sorted_words) and self.sorted_words[at].startswith(prefix):
                return self.index[self.sorted_words[at]]
        return None

    @lru_cache(maxsize=50_000)  # noqa: B019 — one table per process, alive as long as the process
    def vector(self, token: str) -> Optional[np.ndarray]:
        """Cached lookup: the same few thousand words come back in every message."""
        return self.lookup(token)[0]


def resolve(stem: str) -> Path:
    """A relative path is taken from the repository root, whatever directory Rasa runs in."""
    path = Path(stem)
    return path if path.is_absolute() else REPO_ROOT / path


@lru_cache(maxsize=4)
def load_vectors(stem: str) -> WordVectors:
    """One table per process, shared by every model that names the same file."""
    return WordVectors.load(resolve(stem))


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class PersianWordVectorFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds one vector per token (sequence) and their mean (sentence) as dense features."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "vectors": DEFAULT_VECTORS, "pooling": "mean",
                "review_sentiment": False, "token_vectors": True}

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if config.get("pooling") not in {"mean", "max"}:
            raise InvalidConfigException("PersianWordVectorFeaturizer: pooling must be 'mean' or 'max'")
        if not config.get("token_vectors", True) and not config.get("review_sentiment"):
            raise InvalidConfigException("PersianWordVectorFeaturizer: token_vectors and review_sentiment are both off")

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self.vectors = load_vectors(str(config["vectors"]))

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "PersianWordVectorFeaturizer":
        return cls(config, execution_context.node_name)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
                tokens = message.get(TOKENS_NAMES[attribute])
                if tokens:
                    self._featurize(message, attribute, [t.text for t in tokens])
        return messages

    def _featurize(self, message: Message, attribute: Text, words: List[str]) -> None:
        if not self._config["token_vectors"]:
            # Only PerSent's verdict: one sentence feature, zero rows to keep DIET's widths equal.
            verdict = self.vectors.review_sentiment(words)[np.newaxis, :]
            sequence = np.zeros((len(words), verdict.shape[1]), np.float32)
            self.add_features_to_message(sequence, verdict, attribute, message)
            return
        zero = np.zeros(self.vectors.dim, dtype=np.float32)
        found = [self.vectors.vector(w) for w in words]
        sequence = np.stack([v if v is not None else zero for v in found])
        sentence = self.aggregate_sequence_features(sequence, self._config["pooling"])
        if self._config["review_sentiment"]:
            verdict = self.vectors.review_sentiment(words)[np.newaxis, :]
            sequence = np.hstack([sequence, np.zeros((len(words), verdict.shape[1]), np.float32)])
            sentence = np.hstack([sentence, verdict])
        self.add_features_to_message(sequence, sentence, attribute, message)
