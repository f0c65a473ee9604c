"""Property tests: any array into preprocessing and any ids/scores into decoding give a clear error or a valid
result, never a crash of another kind."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rare.codec import LabelCodec
from rare.preprocess import ImageError, preprocess, preprocess_batch

DTYPES = st.sampled_from([np.uint8, np.uint16, np.bool_, np.int8, np.int32, np.float32, np.float64, np.complex64])
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40)


@settings(max_examples=300, deadline=None)
@given(hnp.arrays(DTYPES, SHAPES, elements=None, fill=st.nothing()) | hnp.arrays(DTYPES, SHAPES))
def test_preprocess_any_array(array: np.ndarray) -> None:
    try:
        out = preprocess(array)
    except ImageError as exc:
        assert str(exc)
        return
    assert out.shape == (3, 32, 100) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= -1.0 and out.max() <= 1.0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=300)), min_size=0, max_size=5
    )
)
def test_batch_equals_singles(images: list[np.ndarray]) -> None:
    batch = preprocess_batch(images)
    assert batch.shape == (len(images), 3, 32, 100)
    for row, image in zip(batch, images, strict=True):
        np.testing.assert_array_equal(row, preprocess(image))


@settings(max_examples=300, deadline=None)
@given(
    hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=30), elements=st.integers(-3, 45)),
    st.booleans(),
)
def test_decode_any_ids(ids: np.ndarray, stop: bool) -> None:
    codec = LabelCodec()
    scores = np.full(ids.shape, 0.5, dtype=np.float32)
    try:
        results = codec.decode_ids(ids, scores, stop_at_eos=stop)
    except ValueError as exc:
        assert str(exc)
        return
    assert len(results) == ids.shape[0]
    for rec in results:
        assert set(rec.text) <= set(codec.characters) and len(rec.char_confidences) == len(rec.text)
        assert 0.0 <= rec.confidence <= 1.0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_encode_any_text(text: str) -> None:
    codec = LabelCodec()
    label = codec.encode(text)
    kept, _ = codec.normalize(text)
    if label is None:
        assert not kept or len(kept) > codec.max_chars
        return
    (rec,) = codec.decode_ids(label[None], np.ones((1, 25), np.float32))
    assert rec.text == kept
