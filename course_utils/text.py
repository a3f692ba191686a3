"""Text to tensors: tokenisers, a vocabulary and padded batches (chapter 8).

A model sees numbers, not words. The path from a review to a tensor has three
steps, each a function here: split the text into tokens (`tokenize` for
English, `segment_chinese` for Chinese, which has no spaces between words),
map each token to an index with a `Vocab`, and stack the index lists of a
batch into one padded tensor with `encode_batch`. The review corpora the
chapter trains on live in `reviews.py`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch

__all__ = ["PAD", "UNK", "Vocab", "encode_batch", "segment_chinese", "tokenize"]

PAD, UNK = "<pad>", "<unk>"
_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)  # IMDB reviews contain "<br /><br />"
# a word (letters of any alphabet, or digits, with an optional 's, n't-style suffix), or one other
# non-space character; "_" counts as punctuation
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?|[^\w\s]|_")


def tokenize(text: str) -> list[str]:
    """Lower-case English tokens: words, numbers and punctuation marks.

    Accented letters stay in their words ("café", "naïve"), and a typographic
    apostrophe counts as a plain one ("don’t" is "don't").

    Example:
        >>> tokenize("Not bad at all!<br />I'd watch it again.")
        ['not', 'bad', 'at', 'all', '!', "i'd", 'watch', 'it', 'again', '.']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a string, got {type(text).__name__}; "
                        "call it on each text of a list, e.g. [tokenize(t) for t in texts].")
    return _TOKEN.findall(_HTML_BREAK.sub(" ", text).lower().replace("\u2019", "'"))


def segment_chinese(text: str) -> list[str]:
    """Chinese word segmentation (中文分词) with rjieba, a maintained binding of jieba-rs.

    jieba's dictionary and algorithm (a prefix dictionary for candidate words,
    dynamic programming for the most probable split, an HMM for unknown words),
    compiled in Rust, so it works offline. Whitespace tokens are dropped.

    Example:
        >>> segment_chinese("这本书不好看")
        ['这', '本书', '不', '好看']
    """
    if not isinstance(text, str):
        raise TypeError(f"segment_chinese expects a string, got {type(text).__name__}.")
    try:
        import rjieba
    except ImportError as error:
        raise ImportError("Chinese word segmentation needs the rjieba package: pip install rjieba") from error
    return [token for token in rjieba.cut(text) if token.strip()]


class Vocab:
    """A two-way map between tokens and indices, built from tokenised texts.

    Index 0 is the padding token `<pad>` and index 1 the unknown token `<unk>`,
    which stands for every token that is not in the vocabulary (rare words, or
    words first seen in the test set). The other tokens are numbered from the
    most frequent down; ties keep the order in which the tokens first appeared.

    Args:
        texts: an iterable of token lists, e.g. the tokenised training set.
        min_freq: keep only tokens seen at least this often.
        max_size: keep at most this many tokens (besides `<pad>` and `<unk>`).
    """

    def __init__(self, texts: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None) -> None:
        if isinstance(texts, str):
            raise TypeError("Vocab expects token lists, not one string: pass [tokenize(text) for text in texts].")
        if min_freq < 1:
            raise ValueError(f"min_freq must be at least 1, got {min_freq}.")
        self.counts = Counter()
        for tokens in texts:
            if isinstance(tokens, str):
                raise TypeError("Vocab expects token lists, got a string inside the list: tokenize each text first.")
            self.counts.update(tokens)
        kept = [token for token, count in self.counts.most_common() if count >= min_freq and token not in (PAD, UNK)]
        self.itos = [PAD, UNK] + kept[:max_size]  # index -> token
        self.stoi = {token: index for index, token in enumerate(self.itos)}  # token -> index

    pad_index, unk_index = 0, 1

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        return self.stoi.get(token, self.unk_index)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Token list -> index list (unknown tokens become `<unk>`'s index)."""
        return [self.stoi.get(token, self.unk_index) for token in tokens]

    def decode(self, indices) -> list[str]:
        """Index list or 1-D tensor -> token list, without padding."""
        indices = indices.tolist() if isinstance(indices, torch.Tensor) else indices
        return [self.itos[i] for i in indices if i != self.pad_index]

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {', '.join(self.itos[:6])}, ...)"


def encode_batch(vocab: Vocab, texts: Sequence[Sequence[str]], max_len: int | None = None):
    """Encode tokenised texts as one padded index tensor and their lengths.

    Args:
        vocab: the vocabulary.
        texts: token lists (each one non-empty).
        max_len: cut longer texts to their first `max_len` tokens.

    Returns:
        (indices, lengths): an int64 tensor (N, T), padded with `vocab.pad_index`
        after each text, T the longest (cut) length; and an int64 tensor (N,).
    """
    if max_len is not None and max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}.")
    encoded = [vocab.encode(tokens)[:max_len] for tokens in texts]
    empty = [i for i, indices in enumerate(encoded) if not indices]
    if empty:
        raise ValueError(f"{len(empty)} text(s) have no tokens (the first is number {empty[0]}); "
                         "drop empty texts before encoding, since a sequence needs at least one step.")
    lengths = torch.tensor([len(indices) for indices in encoded], dtype=torch.long)
    batch = torch.full((len(encoded), int(lengths.max()) if encoded else 0), vocab.pad_index, dtype=torch.long)
    for row, indices in enumerate(encoded):
        batch[row, :len(indices)] = torch.tensor(indices, dtype=torch.long)
    return batch, lengths
