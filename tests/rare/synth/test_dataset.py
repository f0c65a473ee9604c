"""SynthDataset: deterministic items, cheap pickling, DataLoader workers."""

from __future__ import annotations

import pickle

import pytest

from rare.render_options import RenderOptions
from rare.synth.errors import SynthError
from rare.synth.render import WordRenderer

torch = pytest.importorskip("torch")

from rare.data.synth_dataset import SynthDataset  # noqa: E402


def test_items_equal_renderer_samples() -> None:
    dataset = SynthDataset(10, seed=4)
    renderer = WordRenderer()
    assert len(dataset) == 10
    for index in (0, 3, 9, 25):  # past len: the stream goes on (a new set each epoch)
        image, label = dataset[index]
        expected, expected_label = renderer.sample(4, index)
        assert label == expected_label and image.tobytes() == expected.tobytes()
    with pytest.raises(IndexError):
        dataset[-1]


def test_pickles_without_the_renderer() -> None:
    dataset = SynthDataset(5, seed=1)
    first = dataset[0]
    payload = pickle.dumps(dataset)
    assert len(payload) < 50_000
    clone = pickle.loads(payload)
    assert clone._renderer is None
    assert clone[0][0].tobytes() == first[0].tobytes()


def test_dataloader_workers_give_the_same_items() -> None:
    dataset = SynthDataset(6, seed=2)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)
    for index, (image, label) in enumerate(loader):
        expected, expected_label = dataset[index]
        assert label == expected_label
        assert image.numpy().tobytes() == expected.tobytes()


def test_bad_arguments() -> None:
    with pytest.raises(SynthError):
        SynthDataset(-1)
    with pytest.raises(SynthError, match="word list not found"):
        SynthDataset(1, options=RenderOptions(wordlist="/nonexistent/words"))
