"""Character-level text datasets: vocabulary, encode/decode, 90/10 split, batches."""
import numpy as np
import pytest

import tinygen as tg
from tinygen.data import DataLoader, TextDataset, load, random_windows

TEXT = "hello world\nthe quick brown fox jumps over the lazy dog\n" * 3 + "ünïcödé ✓\n"


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_any_text_file(text_file):
    train, val = load(str(text_file)), load(text_file, "val")
    assert isinstance(train, TextDataset)
    assert train.vocab == sorted(set(TEXT)) == val.vocab
    assert len(train) == int(len(TEXT) * 0.9) and len(train) + len(val) == len(TEXT)
    assert len(load(text_file, "test")) == len(val)
    assert train.decode(train.data.numpy()) + val.decode(val.data) == TEXT
    assert train.stoi["h"] == train.vocab.index("h") and train.itos[train.stoi["✓"]] == "✓"
    assert train.data.dtype == tg.int64 and tuple(train.data.shape) == (len(train),)


def test_encode_decode_round_trip(text_file):
    ds = load(text_file)
    ids = ds.encode("the lazy dog ✓")
    assert all(isinstance(i, int) for i in ids) and ds.decode(ids) == "the lazy dog ✓"
    assert ds.decode(np.array([ids])) == "the lazy dog ✓"           # any shape, row-major
    with pytest.raises(ValueError, match="'Z' is not in the vocabulary"):
        ds.encode("Z")


def test_tinyshakespeare(shared_data):
    train = load("tinyshakespeare", "train", root=shared_data)
    val = load("tinyshakespeare", "val", root=shared_data)
    assert train.vocab_size == 65 and val.vocab == train.vocab
    assert len(train) == 1003854 and len(val) == 111540                # nanoGPT's numbers
    assert train.decode(train.ids[:14]) == "First Citizen:"
    assert train.vocab[:3] == ["\n", " ", "!"]


def test_get_batch_windows(text_file):
    ds = load(text_file)
    x, y = ds.get_batch(batch_size=4, block_size=8, generator=0)
    assert tuple(x.shape) == (4, 8) and x.dtype == tg.int64
    xs, ys = x.numpy(), y.numpy()
    np.testing.assert_array_equal(xs[:, 1:], ys[:, :-1])              # y is x shifted by one
    text = ds.decode(ds.ids)
    for row in range(4):
        assert ds.decode(np.append(xs[row], ys[row, -1])) in text
    again = ds.get_batch(4, 8, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(again[0].numpy(), xs)


def test_random_windows_errors():
    with pytest.raises(ValueError, match="no window"):
        random_windows(np.arange(5), 5, 2, np.random.default_rng(0))


def test_blocks_cover_the_split_for_a_loader(text_file):
    ds = load(text_file)
    blocks = ds.blocks(block_size=16)
    x, y = (t.numpy() for t in blocks.tensors)
    assert x.shape == ((len(ds) - 1) // 16, 16)
    np.testing.assert_array_equal(x.reshape(-1), ds.ids[: x.size])
    np.testing.assert_array_equal(y.reshape(-1), ds.ids[1: x.size + 1])
    batches = list(DataLoader(blocks, batch_size=3))
    assert sum(len(b[0].numpy()) for b in batches) == len(x)


def test_bad_files(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.txt: not UTF-8"):
        load(bad)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        load(bad, "dev")


def test_missing_tinyshakespeare(tmp_path):
    with pytest.raises(FileNotFoundError, match="tinygen data download tinyshakespeare --root"):
        load("tinyshakespeare", root=tmp_path)


def test_get_batch_on_a_device(text_file):
    """device=: the same windows as on the CPU for the same seed, delivered on that device."""
    ds = load(text_file, "train")
    x_cpu, y_cpu = ds.get_batch(3, 5, np.random.default_rng(7))
    x, y = ds.get_batch(3, 5, np.random.default_rng(7), device="test")
    assert x.device == "test" and y.device == "test"
    assert x.cpu().tolist() == x_cpu.tolist() and y.cpu().tolist() == y_cpu.tolist()
