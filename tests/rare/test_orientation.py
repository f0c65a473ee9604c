"""The tall-crop policy: which crops get turned views, which reading wins, and where the policy is declared."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from rare.codec import Recognition
from rare.config import ConfigError, config_from_dict
from rare.modelspec import ModelSpec, ModelSpecError
from rare.orientation import Orientation, OrientationError, nudged

POLICY = Orientation(min_aspect=1.5, margin=0.2)


def crop(height: int, width: int) -> np.ndarray:
    # every pixel distinct, so a rotation is told apart from the original
    return np.arange(height * width * 3, dtype=np.uint32).reshape(height, width, 3).astype(np.uint8)


def reading(text: str, confidence: float) -> Recognition:
    return Recognition(text, confidence, [confidence] * len(text))


@pytest.mark.parametrize(
    ("height", "width", "tall"), [(32, 100, False), (40, 30, False), (45, 30, True), (90, 20, True)]
)
def test_only_crops_at_least_min_aspect_times_taller_than_wide_get_turned_views(height, width, tall) -> None:
    image = crop(height, width)
    views = POLICY.views(image)
    assert views[0] is image
    assert len(views) == (3 if tall else 1)
    if tall:
        clockwise, counter = views[1:]
        assert clockwise.shape == counter.shape == (width, height, 3)
        assert np.array_equal(clockwise, np.rot90(image, -1)) and np.array_equal(counter, np.rot90(image, 1))
        assert clockwise.flags.c_contiguous and counter.flags.c_contiguous  # OpenCV wants contiguous arrays


def test_the_policy_is_off_by_default() -> None:
    off = Orientation()
    assert not off.enabled
    assert len(off.views(crop(200, 10))) == 1


def test_expand_names_the_crop_of_every_view_upright_first() -> None:
    views, owners = POLICY.expand([crop(32, 100), crop(90, 20), crop(20, 60)])
    assert owners == [0, 1, 1, 1, 2]
    assert [v.shape[:2] for v in views] == [(32, 100), (90, 20), (20, 90), (20, 90), (20, 60)]


def test_a_turned_reading_wins_only_when_clearly_more_confident() -> None:
    readings = [
        reading("pord", 0.44),  # crop 0 upright
        reading("recycle", 0.79),  # crop 0 turned clockwise: clearly surer
        reading("xx", 0.30),
        reading("shoe", 0.80),  # crop 1 upright, right
        reading("sale", 0.95),  # crop 1 turned: surer, but not by more than the margin
        reading("a", 0.10),
        reading("wide", 0.50),  # crop 2, a wide crop: one reading
    ]
    chosen = POLICY.choose(readings, [0, 0, 0, 1, 1, 1, 2])
    assert [r.text for r in chosen] == ["recycle", "shoe", "wide"]


def test_readings_of_a_crop_need_not_be_adjacent() -> None:
    """rare eval reads every upright view of a batch first, then the turned ones."""
    readings = [reading("a", 0.5), reading("b", 0.5), reading("a90", 0.9), reading("b90", 0.6), reading("x", 0.1)]
    assert [r.text for r in POLICY.choose(readings, [0, 1, 0, 1, 0])] == ["a90", "b"]


def test_choose_refuses_readings_that_do_not_match_the_views() -> None:
    with pytest.raises(OrientationError, match="2 readings for 3 views"):
        POLICY.choose([reading("a", 1), reading("b", 1)], [0, 0, 0])


def test_negative_settings_are_refused() -> None:
    with pytest.raises(OrientationError):
        Orientation(min_aspect=-1)
    with pytest.raises(OrientationError):
        Orientation(margin=-0.1)


def spec_dict() -> dict:
    from rare.modelspec import our_io

    images, outputs = our_io(38)
    spec = ModelSpec("m", "1", list("0123456789abcdefghijklmnopqrstuvwxyz"), images, outputs)
    return json.loads(spec.to_json())


def test_rare_json_carries_the_policy_and_older_files_read_as_off() -> None:
    data = spec_dict()
    assert data["orientation"] == {"min_aspect": 0.0, "margin": 0.2, "nudges": []}
    del data["orientation"]  # rare.json written before the policy existed, or a PaddleOCR import
    assert not ModelSpec.from_dict(data).orientation.enabled
    on = ModelSpec.from_dict({**data, "orientation": {"min_aspect": 1.5}})
    assert on.orientation == POLICY
    assert ModelSpec.from_json(on.to_json()).orientation == POLICY


@pytest.mark.parametrize("bad", [{"min_aspect": -2}, {"turn": True}, "yes", {"nudges": [[0.1]]}, {"nudges": [[0, 1]]}])
def test_a_malformed_policy_in_rare_json_names_the_file(bad) -> None:
    with pytest.raises(ModelSpecError, match="rare.json"):
        ModelSpec.from_dict({**spec_dict(), "orientation": bad})


def test_preprocess_views_gives_a_row_per_view() -> None:
    spec = dataclasses.replace(ModelSpec.from_dict(spec_dict()), orientation=POLICY)
    batch, owners = spec.preprocess_views([crop(32, 100), crop(90, 20)])
    assert batch.shape == (4, 3, 32, 100) and owners == [0, 1, 1, 1]


def test_the_training_config_declares_it_under_global() -> None:
    cfg = config_from_dict({"Global": {"orientation": {"min_aspect": 1.5, "margin": 0.1}}})
    assert cfg.Global.orientation == Orientation(1.5, 0.1)
    assert not config_from_dict({}).Global.orientation.enabled
    with pytest.raises(ConfigError, match="orientation"):
        config_from_dict({"Global": {"orientation": {"min_aspect": -1}}})


NUDGED = Orientation(min_aspect=1.5, margin=0.2, nudges=[[0, -0.05], [-0.03, 0], [0.05, 0]])


def test_a_nudge_trims_or_pads_each_side_by_its_fraction() -> None:
    image = crop(40, 100)
    assert np.array_equal(nudged(image, 0, -0.05), image[2:38])  # 2 rows off the top and the bottom
    assert np.array_equal(nudged(image, -0.03, 0), image[:, 3:97])
    wider = nudged(image, 0.05, 0)
    assert wider.shape == (40, 110, 3) and np.array_equal(wider[:, 5:105], image)
    assert np.array_equal(wider[:, :5], np.repeat(image[:, :1], 5, axis=1))  # the border repeated, not black
    assert np.array_equal(nudged(image, 0.05, -0.05), np.pad(image[2:38], ((0, 0), (5, 5), (0, 0)), mode="edge"))
    assert nudged(crop(3, 3), -0.25, -0.25).shape == (1, 1, 3)  # a pixel is always left
    assert nudged(image, 0, 0).flags.c_contiguous and nudged(image, -0.03, 0).flags.c_contiguous


def test_nudged_views_come_after_the_crop_and_before_the_turned_ones() -> None:
    wide, tall = crop(32, 100), crop(90, 20)
    assert [v.shape[:2] for v in NUDGED.views(wide)] == [(32, 100), (28, 100), (32, 94), (32, 110)]
    assert [v.shape[:2] for v in NUDGED.views(tall)] == [(90, 20), (82, 20), (90, 18), (90, 22), (20, 90), (20, 90)]
    assert NUDGED.expand([wide, tall])[1] == [0] * 4 + [1] * 6


def test_the_most_confident_upright_view_wins_and_a_turned_one_must_beat_it_by_the_margin() -> None:
    readings = [
        *(reading(t, c) for t, c in [("stare", 0.6), ("state", 0.8), ("state", 0.8), ("stave", 0.5)]),  # crop 0
        *(reading(t, c) for t, c in [("ab", 0.7), ("ab", 0.7), ("ac", 0.6), ("ad", 0.7)]),  # crop 1: ties -> as is
        *(reading(t, c) for t, c in [("pord", 0.4), ("pord", 0.5), ("port", 0.55), ("pond", 0.3)]),  # crop 2, tall
        reading("recycle", 0.8),  # crop 2 turned: beats the best upright reading (0.55) by more than 0.2
        reading("x", 0.1),
    ]
    owners = [0] * 4 + [1] * 4 + [2] * 6
    assert [r.text for r in NUDGED.choose(readings, owners)] == ["state", "ab", "recycle"]
    readings[12] = reading("recycle", 0.7)  # not clearly surer than "port"
    assert [r.text for r in NUDGED.choose(readings, owners)][2] == "port"


def test_nudges_are_declared_in_rare_json_and_the_training_config() -> None:
    on = ModelSpec.from_dict({**spec_dict(), "orientation": {"min_aspect": 1.5, "nudges": NUDGED.nudges}})
    assert on.orientation == NUDGED and ModelSpec.from_json(on.to_json()).orientation == NUDGED
    cfg = config_from_dict(
        {"Global": {"orientation": {"min_aspect": 1.5, "nudges": [[0, -0.05], [-0.03, 0], [0.05, 0]]}}}
    )
    assert cfg.Global.orientation == NUDGED
    batch, owners = dataclasses.replace(on, orientation=NUDGED).preprocess_views([crop(32, 100)])
    assert batch.shape == (4, 3, 32, 100) and owners == [0, 0, 0, 0]
