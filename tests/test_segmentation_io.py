"""Reading and writing the MS-TCN action-segmentation layout (seqot.segmentation.io)."""

import os

import numpy as np
import pytest

import seqot
from seqot.segmentation import (
    load_mstcn_dataset,
    segmentation_scores,
    write_mstcn_predictions,
)
from seqot.utils.estimator_checks import check_function_constraint, function_constraint_cases

ACTIONS = ["take", "pour", "stir"]
# video -> (T, segment lengths of actions 0, 1, 2 in order)
VIDEOS = {"vid_a": [4, 5, 3], "vid_b": [6, 6, 6], "vid_c": [3, 4, 8]}
D = 4


def _labels(lengths):
    return np.repeat(np.arange(len(lengths)), lengths)


def _make_dataset(root, *, gt=True, mapping=True):
    """3 videos, D=4, T in 12..18, 3 actions, a test bundle with two videos.

    Features are action means plus noise, stored as (D, T) like MS-TCN's.
    """
    rng = np.random.default_rng(0)
    (root / "features").mkdir(parents=True)
    if gt:
        (root / "groundTruth").mkdir()
    (root / "splits").mkdir()
    if mapping:
        (root / "mapping").mkdir()
        (root / "mapping" / "mapping.txt").write_text(
            "".join(f"{i} {name}\n" for i, name in enumerate(ACTIONS)))
    means = 3.0 * rng.normal(size=(len(ACTIONS), D))
    arrays = {}
    for name, lengths in VIDEOS.items():
        y = _labels(lengths)
        x = means[y] + 0.1 * rng.normal(size=(len(y), D))
        arrays[name] = (x, y)
        np.save(root / "features" / f"{name}.npy", x.T)
        if gt:
            (root / "groundTruth" / f"{name}.txt").write_text(
                "".join(ACTIONS[k] + "\n" for k in y))
    (root / "splits" / "test.split1.bundle").write_text("vid_c.txt\nvid_a.txt\n")
    (root / "splits" / "train.split1.bundle").write_text("vid_b.txt\n")
    return arrays


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "toy"
    arrays = _make_dataset(root)
    return root, arrays


# --------------------------------------------------------------------------- loading


def test_load_all_videos_transposes_and_maps_labels(dataset):
    root, arrays = dataset
    data = load_mstcn_dataset(root)
    assert data.video_names == ["vid_a", "vid_b", "vid_c"]  # sorted by name
    assert data.action_names == ACTIONS
    assert data.background_names == []
    assert data.root == root and data.split is None
    assert len(data.X) == len(data.y) == 3
    for name, x, y in zip(data.video_names, data.X, data.y):
        x_true, y_true = arrays[name]
        assert x.shape == (sum(VIDEOS[name]), D)
        assert x.dtype == np.float32 and x.flags.c_contiguous
        np.testing.assert_allclose(x, x_true, rtol=1e-6)
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, y_true)
    # names of the mapping index the labels
    assert [data.action_names[k] for k in data.y[0][[0, 4, 9]]] == ACTIONS


def test_dtype_and_transpose_options(dataset, tmp_path):
    root, arrays = dataset
    data = load_mstcn_dataset(root, dtype=np.float64)
    assert data.X[0].dtype == np.float64
    np.testing.assert_array_equal(data.X[0], arrays["vid_a"][0])
    # (T, D) files
    other = tmp_path / "td"
    (other / "features").mkdir(parents=True)
    np.save(other / "features" / "v.npy", np.arange(12.0).reshape(6, 2))
    td = load_mstcn_dataset(other, transpose=False)
    assert td.X[0].shape == (6, 2) and td.y is None and td.action_names is None


def test_split_bundle_selects_videos_in_order(dataset):
    root, _ = dataset
    data = load_mstcn_dataset(root, split="test.split1.bundle")
    assert data.video_names == ["vid_c", "vid_a"]
    assert data.split == "test.split1.bundle"
    assert [len(x) for x in data.X] == [sum(VIDEOS["vid_c"]), sum(VIDEOS["vid_a"])]
    absolute = load_mstcn_dataset(root, split=root / "splits" / "train.split1.bundle")
    assert absolute.video_names == ["vid_b"]


def test_videos_argument(dataset):
    root, arrays = dataset
    data = load_mstcn_dataset(root, videos=["vid_b", "vid_a.txt"])
    assert data.video_names == ["vid_b", "vid_a"]
    np.testing.assert_array_equal(data.y[1], arrays["vid_a"][1])


def test_subsample_keeps_every_kth_frame(dataset):
    root, arrays = dataset
    full = load_mstcn_dataset(root)
    sub = load_mstcn_dataset(root, subsample=3)
    for xf, yf, xs, ys in zip(full.X, full.y, sub.X, sub.y):
        np.testing.assert_array_equal(xs, xf[::3])
        np.testing.assert_array_equal(ys, yf[::3])
        assert len(xs) == len(ys) == -(-len(xf) // 3)


def test_missing_ground_truth_folder_gives_y_none(tmp_path):
    root = tmp_path / "pred_only"
    _make_dataset(root, gt=False)
    data = load_mstcn_dataset(root)
    assert data.y is None and len(data.X) == 3 and data.action_names == ACTIONS
    # no mapping either: features only
    bare = tmp_path / "bare"
    _make_dataset(bare, gt=False, mapping=False)
    data = load_mstcn_dataset(bare)
    assert data.y is None and data.action_names is None


def test_background_names_become_minus_one_and_the_rest_is_renumbered(dataset):
    root, arrays = dataset
    data = load_mstcn_dataset(root, background="take")
    assert data.action_names == ["pour", "stir"]
    assert data.background_names == ["take"]
    y_true = arrays["vid_a"][1]
    np.testing.assert_array_equal(data.y[0], np.where(y_true == 0, -1, y_true - 1))
    # evaluating with the metrics' background convention
    scores = segmentation_scores(data.y, data.y, background=-1)
    assert scores["mof"] == 1.0
    assert scores["n_frames"] == sum(sum(v[1:]) for v in VIDEOS.values())


def test_negative_mapping_ids_are_background(tmp_path):
    root = tmp_path / "neg"
    _make_dataset(root)
    (root / "mapping" / "mapping.txt").write_text("-1 take\n0 pour\n1 stir\n")
    data = load_mstcn_dataset(root)
    assert data.action_names == ["pour", "stir"] and data.background_names == ["take"]
    assert data.y[0].min() == -1


def test_length_mismatch_policies(dataset):
    root, arrays = dataset
    gt = root / "groundTruth" / "vid_b.txt"
    gt.write_text("".join(ACTIONS[k] + "\n" for k in arrays["vid_b"][1][:-2]))  # 2 short
    with pytest.raises(ValueError, match=r"'vid_b'.*16 frames.*18.*length_mismatch='truncate'"):
        load_mstcn_dataset(root)
    data = load_mstcn_dataset(root, length_mismatch="truncate")
    assert len(data.X[1]) == len(data.y[1]) == 16
    np.testing.assert_allclose(data.X[1], arrays["vid_b"][0][:16], rtol=1e-6)
    # longer ground truth is cut as well
    gt.write_text("".join(ACTIONS[k] + "\n" for k in np.r_[arrays["vid_b"][1], [2, 2]]))
    data = load_mstcn_dataset(root, length_mismatch="truncate", subsample=2)
    assert len(data.X[1]) == len(data.y[1]) == 9


def test_gt_without_txt_suffix_and_crlf_and_trailing_blank_lines(dataset):
    root, arrays = dataset
    gt = root / "groundTruth"
    (gt / "vid_a.txt").unlink()
    (gt / "vid_a").write_bytes(
        ("\r\n".join(ACTIONS[k] for k in arrays["vid_a"][1]) + "\r\n\r\n").encode())
    data = load_mstcn_dataset(root, videos=["vid_a"])
    np.testing.assert_array_equal(data.y[0], arrays["vid_a"][1])


def test_non_finite_features(dataset):
    root, arrays = dataset
    x = arrays["vid_a"][0].copy()
    x[2, 1] = np.nan
    np.save(root / "features" / "vid_a.npy", x.T)
    with pytest.raises(ValueError, match=r"vid_a\.npy contain NaN.*frame 2"):
        load_mstcn_dataset(root)
    data = load_mstcn_dataset(root, non_finite="zero")
    assert data.X[0][2, 1] == 0 and np.isfinite(data.X[0]).all()


# --------------------------------------------------------------------------- error paths


def test_error_unknown_action_names_file_and_line(dataset):
    root, _ = dataset
    path = root / "groundTruth" / "vid_c.txt"
    lines = path.read_text().splitlines()
    lines[5] = "whisk"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"vid_c\.txt, line 6: action 'whisk' is not in the "
                                         r"mapping"):
        load_mstcn_dataset(root)


def test_error_empty_line_inside_ground_truth(dataset):
    root, _ = dataset
    path = root / "groundTruth" / "vid_a.txt"
    lines = path.read_text().splitlines()
    lines[1] = ""
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"vid_a\.txt, line 2: empty line"):
        load_mstcn_dataset(root)


def test_error_video_in_bundle_without_features(dataset):
    root, _ = dataset
    (root / "splits" / "test.split1.bundle").write_text("vid_a.txt\nvid_zzz.txt\n")
    with pytest.raises(ValueError, match=r"'vid_zzz'.*test\.split1\.bundle.*no features file"):
        load_mstcn_dataset(root, split="test.split1.bundle")


def test_error_missing_bundle_lists_available(dataset):
    root, _ = dataset
    with pytest.raises(ValueError, match=r"does not exist; found \['test\.split1\.bundle', "
                                         r"'train\.split1\.bundle'\]"):
        load_mstcn_dataset(root, split="test.split9.bundle")


def test_error_empty_folders(tmp_path):
    (tmp_path / "empty" / "features").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no .npy files"):
        load_mstcn_dataset(tmp_path / "empty")
    with pytest.raises(ValueError, match="features folder .* does not exist"):
        load_mstcn_dataset(tmp_path)
    with pytest.raises(ValueError, match="data set folder .* does not exist"):
        load_mstcn_dataset(tmp_path / "nowhere")


def test_error_features_not_2d(dataset):
    root, _ = dataset
    np.save(root / "features" / "vid_b.npy", np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"vid_b\.npy must be 2-D.*\(2, 3, 4\)"):
        load_mstcn_dataset(root)


def test_error_pickled_features_are_refused(dataset):
    root, _ = dataset
    np.save(root / "features" / "vid_b.npy", np.array([{"a": 1}], dtype=object),
            allow_pickle=True)
    with pytest.raises(ValueError, match=r"cannot read features .*vid_b\.npy"):
        load_mstcn_dataset(root)


def test_error_missing_ground_truth_file_and_mapping(dataset):
    root, _ = dataset
    (root / "groundTruth" / "vid_b.txt").unlink()
    with pytest.raises(ValueError, match=r"'vid_b' has no ground-truth file"):
        load_mstcn_dataset(root)
    (root / "mapping" / "mapping.txt").unlink()
    with pytest.raises(ValueError, match=r"mapping file .* does not exist"):
        load_mstcn_dataset(root, videos=["vid_a"])


@pytest.mark.parametrize("content, match", [
    ("0 take\n1\n", r"mapping\.txt, line 2: expected '<integer id> <action name>'"),
    ("0 take\nx pour\n", r"line 2: expected"),
    ("0 take\n0 pour\n", r"line 2: id 0 already given to 'take'"),
    ("0 take\n1 take\n", r"line 2: action 'take' already listed"),
    ("\n\n", r"lists no actions"),
])
def test_error_malformed_mapping(dataset, content, match):
    root, _ = dataset
    (root / "mapping" / "mapping.txt").write_text(content)
    with pytest.raises(ValueError, match=match):
        load_mstcn_dataset(root)


# Plain bad values of the options (types, ranges, option strings) are driven by the declared
# constraints in test_parameter_constraints; these are the checks no constraint expresses.
@pytest.mark.parametrize("kwargs, match", [
    (dict(dtype=np.int32), "floating dtype"),
    (dict(split="test.split1.bundle", videos=["vid_a"]), "either split or videos"),
    (dict(videos=[]), "videos is empty"),
    (dict(videos=["vid_a", "vid_a.txt"]), "more than once"),
    (dict(videos=["../vid_a"]), "without a directory part"),
    (dict(videos=[3]), "without a directory part"),
    (dict(background="whisk"), "background action 'whisk' is not in the mapping"),
    (dict(background=["take", 3]), "background must be"),
])
def test_error_invalid_arguments(dataset, kwargs, match):
    root, _ = dataset
    with pytest.raises(ValueError, match=match):
        load_mstcn_dataset(root, **kwargs)


def test_error_duplicate_video_in_bundle(dataset):
    root, _ = dataset
    (root / "splits" / "dup.bundle").write_text("vid_a.txt\nvid_b.txt\nvid_a.txt\n")
    with pytest.raises(ValueError, match=r"dup\.bundle, line 3: video 'vid_a' already listed"):
        load_mstcn_dataset(root, split="dup.bundle")


# --------------------------------------------------------------------------- writer


def test_writer_round_trip(dataset, tmp_path):
    root, _ = dataset
    data = load_mstcn_dataset(root)
    out = tmp_path / "predictions" / "split1"
    paths = write_mstcn_predictions(out, data.video_names, data.y, data.action_names)
    assert [p.name for p in paths] == ["vid_a.txt", "vid_b.txt", "vid_c.txt"]
    assert paths[0].read_text() == (root / "groundTruth" / "vid_a.txt").read_text()
    again = load_mstcn_dataset(root, gt_dir=out)
    for y0, y1 in zip(data.y, again.y):
        np.testing.assert_array_equal(y0, y1)
    assert sorted(os.listdir(out)) == ["vid_a.txt", "vid_b.txt", "vid_c.txt"]  # no temp files


def test_writer_background_and_integer_labels(tmp_path):
    labels = [np.array([-1, 0, 0, 1]), np.array([1.0, 1.0])]
    paths = write_mstcn_predictions(tmp_path, ["a", "b"], labels, ["x", "y"],
                                    background_name="background")
    assert paths[0].read_text().splitlines() == ["background", "x", "x", "y"]
    assert paths[1].read_text().splitlines() == ["y", "y"]
    # without names, the integers themselves (e.g. cluster ids)
    paths = write_mstcn_predictions(tmp_path / "ids", ["a"], [np.array([3, 3, 7])])
    assert paths[0].read_text() == "3\n3\n7\n"
    # a mapping of names works too
    paths = write_mstcn_predictions(tmp_path / "map", ["a"], [[5, 9]], {5: "five", 9: "nine"})
    assert paths[0].read_text().splitlines() == ["five", "nine"]


def test_writer_replaces_existing_file(tmp_path):
    (tmp_path / "a.txt").write_text("old\n" * 10)
    write_mstcn_predictions(tmp_path, ["a"], [np.array([0, 1])], ["x", "y"])
    assert (tmp_path / "a.txt").read_text() == "x\ny\n"


@pytest.mark.parametrize("names, labels, action_names, kwargs, match", [
    (["a", "b"], [np.array([0])], ["x"], {}, "2 entries but labels has 1"),
    (["a", "a"], [np.array([0]), np.array([0])], ["x"], {}, "more than once"),
    (["sub/a"], [np.array([0])], ["x"], {}, "without a directory part"),
    (["a"], [np.array([0, 2])], ["x", "y"], {}, "label 2 has no entry"),
    (["a"], [np.array([-1, 0])], ["x"], {}, "background_name is not given"),
    (["a"], [np.array([0.5])], ["x"], {}, "must be integers"),
    (["a"], [np.zeros((2, 2), dtype=int)], ["x"], {}, "1-D"),
    (["a"], [np.array([0])], ["two\nlines"], {}, "one-line"),
    (["a"], [np.array([-1])], ["x"], {"background_name": ""}, "background_name"),
])
def test_writer_errors_write_nothing(tmp_path, names, labels, action_names, kwargs, match):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=match):
        write_mstcn_predictions(out, names, labels, action_names, **kwargs)
    assert not out.exists() or os.listdir(out) == []


def test_writer_failure_leaves_no_temp_file(tmp_path, monkeypatch):
    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_mstcn_predictions(tmp_path, ["a"], [np.array([0, 1])], ["x", "y"])
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- end to end


def test_end_to_end_asot_segmenter(dataset):
    root, _ = dataset
    data = load_mstcn_dataset(root)
    labels = seqot.ASOTSegmenter(n_actions=3, max_epochs=1, device="cpu",
                                 random_state=0).fit_predict(data.X)
    assert [len(p) for p in labels] == [len(x) for x in data.X]
    scores = segmentation_scores(data.y, labels)
    assert all(np.isfinite(v) for v in scores.values())
    assert 0.0 <= scores["mof"] <= 1.0
    assert scores["n_videos"] == 3 and scores["n_frames"] == sum(map(len, data.y))


# --------------------------------------------------------------------------- declared constraints
_ROOT, _OUT = object(), object()  # stand-ins for the folders of the test, put in by the test
_CONSTRAINT_CASES = [
    *function_constraint_cases(load_mstcn_dataset, (_ROOT,)),
    *function_constraint_cases(write_mstcn_predictions, (_OUT, ["a"], [np.array([0])], ["x"]),
                               skip=("labels",)),
    # a string where a list of names is expected (a name is no list of one-letter names)
    (load_mstcn_dataset, (_ROOT,), {"videos": "vid_a"}, "videos"),
    (write_mstcn_predictions, (_OUT, "a", [np.array([0])], ["x"]), {}, "video_names"),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=f"{c[0].__name__}-{c[3]}-{i}")
                                  for i, c in enumerate(_CONSTRAINT_CASES)])
def test_parameter_constraints(case, dataset, tmp_path):
    func, args, kwargs, name = case
    root, _ = dataset
    out = tmp_path / "out"
    args = tuple(root if a is _ROOT else out if a is _OUT else a for a in args)
    check_function_constraint(func, args, kwargs, name)
    assert not out.exists()  # rejected before anything is written
