import json
from pathlib import Path

import numpy as np
import pytest

from rare.codec import LabelCodec
from tests.conftest import FIXTURES


def test_class_table_matches_paddleocr() -> None:
    codec = LabelCodec()
    expected = json.loads((FIXTURES / "params_mv3.json").read_text())["character"]
    assert codec.tokens == expected and codec.sos == 0 and codec.eos == 37 and codec.num_classes == 38


def test_encode_layout_lowercases_and_drops() -> None:
    codec = LabelCodec()
    label = codec.encode("Hi-5!")
    assert label.tolist()[:5] == [0, codec.tokens.index("h"), codec.tokens.index("i"), codec.tokens.index("5"), 37]
    assert label.shape == (25,) and not label[5:].any()
    assert codec.normalize("Hi-5!") == ("hi5", 2)


def test_encode_rejects_empty_and_too_long() -> None:
    codec = LabelCodec()
    assert codec.encode("") is None and codec.encode("...") is None
    assert codec.encode("a" * 23) is not None and codec.encode("a" * 24) is None
    batch = codec.encode_batch(["abc", "A.B"])
    assert batch.lengths.tolist() == [3, 2] and batch.dropped_chars == 1
    with pytest.raises(ValueError, match="empty or longer"):
        codec.encode_batch(["ok", "!!!"])


def test_dictionary_file_and_space(tmp_path: Path) -> None:
    path = tmp_path / "dict.txt"
    path.write_text("a\nB\nc\n")
    codec = LabelCodec.from_dict_file(path, use_space_char=True)
    assert codec.tokens == ["sos", "a", "B", "c", " ", "eos"] and not codec.lowercase
    assert codec.normalize("aBx c") == ("aB c", 1)
    with pytest.raises(ValueError, match="repeats"):
        LabelCodec(["a", "a"])


def _probs(ids: list[int], classes: int = 38, conf: float = 0.9) -> np.ndarray:
    probs = np.full((1, len(ids), classes), (1 - conf) / (classes - 1), dtype=np.float32)
    probs[0, np.arange(len(ids)), ids] = conf
    return probs


def test_decode_stops_at_first_eos_and_paddle_quirk_does_not() -> None:
    codec = LabelCodec()
    h, e, x = (codec.tokens.index(c) for c in "hex")
    probs = _probs([0, h, e, 37, x, 0])
    assert codec.decode(probs)[0].text == "he"
    assert codec.decode(probs, stop_at_eos=False)[0].text == "hex"  # PaddleOCR's AttnLabelDecode


def test_decode_confidences() -> None:
    codec = LabelCodec()
    ids = np.array([[0, 11, 12, 37, 0]])
    scores = np.array([[0.99, 0.5, 0.7, 0.9, 0.2]], dtype=np.float32)
    (rec,) = codec.decode_ids(ids, scores)
    assert rec.text == "ab" and rec.char_confidences == pytest.approx([0.5, 0.7])
    assert rec.confidence == pytest.approx(0.6)
    (empty,) = codec.decode_ids(np.array([[0, 37, 5]]), np.ones((1, 3), dtype=np.float32))
    assert empty.text == "" and empty.confidence == 0.0 and empty.char_confidences == []


def test_decode_matches_paddleocr_on_fixture_outputs() -> None:
    """PaddleOCR decoded the calibration outputs with AttnLabelDecode; none of them contains eos, so both agree."""
    outputs = np.load(FIXTURES / "outputs_mv3_calib.npy")
    reference = json.loads((FIXTURES / "decoded_mv3_calib.json").read_text())
    codec = LabelCodec()
    for stop in (True, False):
        for rec, (text, conf) in zip(codec.decode(outputs, stop_at_eos=stop), reference["decoded"], strict=True):
            assert rec.text == text
            assert rec.confidence == pytest.approx(conf, abs=1e-6)
    assert (outputs.argmax(2) == np.array(reference["argmax"])).all()


def test_decode_rejects_bad_shapes() -> None:
    codec = LabelCodec()
    with pytest.raises(ValueError, match="expected probabilities"):
        codec.decode(np.zeros((2, 25, 37)))
    with pytest.raises(ValueError, match="class ids must lie"):
        codec.decode_ids(np.array([[38]]), np.array([[1.0]]))
