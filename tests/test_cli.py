"""The command line: ``seqot segment`` and ``seqot fewshot`` on tiny data sets, and their
errors (exit status 2, one line naming the problem, nothing written)."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seqot._cli import main

ACTIONS = ["pour", "stir", "drink"]


def make_mstcn(root, *, n_videos=3, D=4, T=40, gt=True, seed=0):
    """3 videos of 3 actions in order, each a well-separated Gaussian blob; (D, T) files."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(len(ACTIONS), D))
    (root / "features").mkdir(parents=True)
    (root / "mapping").mkdir()
    (root / "splits").mkdir()
    (root / "mapping" / "mapping.txt").write_text(
        "".join(f"{i} {a}\n" for i, a in enumerate(ACTIONS)))
    if gt:
        (root / "groundTruth").mkdir()
    names = []
    for v in range(n_videos):
        cuts = np.sort(rng.choice(np.arange(8, T - 8), size=2, replace=False))
        y = np.zeros(T, dtype=int)
        y[cuts[0]:] = 1
        y[cuts[1]:] = 2
        X = centers[y] + 0.3 * rng.normal(size=(T, D))
        name = f"video{v}"
        np.save(root / "features" / f"{name}.npy", X.T.astype(np.float32))
        if gt:
            (root / "groundTruth" / f"{name}.txt").write_text(
                "".join(ACTIONS[k] + "\n" for k in y))
        names.append(name)
    (root / "splits" / "test.split1.bundle").write_text(
        "".join(f"{n}.txt\n" for n in names[:2]))
    return names


def make_fewshot(root, *, n_classes=3, per_class=4, d=5, seed=0):
    rng = np.random.default_rng(seed)
    feats = root / "feats"
    feats.mkdir()
    rows = ["video,label"]
    for c in range(n_classes):
        mean = rng.normal(scale=3.0, size=d)
        for i in range(per_class):
            T = int(rng.integers(10, 16))
            x = mean + 0.5 * rng.normal(size=(T, d))
            name = f"c{c}_v{i}"
            np.save(feats / f"{name}.npy", x.astype(np.float32))
            rows.append(f"{name},class{c}")
    labels = root / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    return feats, labels


SEG_FAST = ["--epochs", "2", "--device", "cpu", "--quiet"]
FS_FAST = ["--n-way", "3", "--n-shot", "1", "--n-query", "2", "--episodes", "4",
           "--device", "cpu", "--quiet"]


def run_error(capsys, argv):
    """Run, expect exit status 2 and a one-line message; return the message."""
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1, captured.err
    assert "error:" in lines[0] and "Traceback" not in captured.err
    return lines[0]


# --------------------------------------------------------------------------- segment


def test_segment_writes_named_predictions_and_prints_metrics(tmp_path, capsys):
    root = tmp_path / "data"
    names = make_mstcn(root)
    assert main(["segment", str(root), "--n-actions", "3", *SEG_FAST]) == 0
    out = capsys.readouterr().out
    for metric in ("MoF", "F1", "F1@10", "F1@25", "F1@50", "mIoU", "Edit"):
        assert metric in out
    values = [float(v) for v in out.splitlines()[1].split()]
    assert len(values) == 7 and all(0 <= v <= 100 for v in values)
    pred_dir = root / "predictions"
    assert sorted(p.name for p in pred_dir.iterdir()) == [f"{n}.txt" for n in names]
    for n in names:
        lines = (pred_dir / f"{n}.txt").read_text().splitlines()
        assert len(lines) == 40
        assert set(lines) <= set(ACTIONS) | {f"cluster_{k}" for k in range(3)}
    # The predictions read back as ground truth in the MS-TCN layout.
    from seqot.segmentation import load_mstcn_dataset

    back = load_mstcn_dataset(root, gt_dir="predictions")
    assert [len(y) for y in back.y] == [40, 40, 40]


def test_segment_predictions_folder_follows_the_umask(tmp_path, capsys):
    """Regression: the folder was staged with mkdtemp and kept its mode 0700."""
    import os
    import stat

    root = tmp_path / "data"
    make_mstcn(root)
    old = os.umask(0o022)
    try:
        assert main(["segment", str(root), "--n-actions", "3", *SEG_FAST]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((root / "predictions").stat().st_mode) == 0o755


def test_fewshot_leaves_out_classes_with_too_few_videos(tmp_path, capsys):
    """As --help says; a class with a single video aborted the run instead."""
    feats, labels = make_fewshot(tmp_path)
    np.save(feats / "lonely.npy", np.zeros((12, 5), np.float32))
    labels.write_text(labels.read_text() + "lonely,classX\n")
    argv = [a for a in FS_FAST if a != "--quiet"]
    assert main(["fewshot", str(feats), "--labels", str(labels), *argv]) == 0
    captured = capsys.readouterr()
    assert "accuracy" in captured.out
    assert "1 class(es) with fewer than 3 videos take no part" in captured.out + captured.err


def test_segment_split_output_subsample_without_gt(tmp_path, capsys):
    root = tmp_path / "data"
    make_mstcn(root, gt=False)
    out_dir = tmp_path / "new" / "preds"
    assert main(["segment", str(root), "-K", "2", "--split", "test.split1.bundle",
                 "--output", str(out_dir), "--subsample", "2", "--rho", "0",
                 "--standardize", *SEG_FAST]) == 0
    out = capsys.readouterr().out
    assert "no metrics" in out
    assert sorted(p.name for p in out_dir.iterdir()) == ["video0.txt", "video1.txt"]
    lines = (out_dir / "video0.txt").read_text().splitlines()
    assert len(lines) == 20 and set(lines) <= {"0", "1"}
    assert not (root / "predictions").exists()


def old_predictions(folder):
    """An existing predictions folder: the 3 videos and one the new run does not write."""
    folder.mkdir(parents=True)
    old = {f"video{v}.txt": f"old {v}\n" for v in (0, 1, 2, 9)}
    for name, text in old.items():
        (folder / name).write_text(text)
    return old


def contents(folder):
    return {p.name: p.read_text() for p in folder.iterdir() if p.is_file()}


def leftovers(parent):
    """Hidden staging or backup folders (or temporary files) next to the output."""
    return [p.name for p in parent.iterdir() if p.name.startswith(".")]


def fail_on_file(monkeypatch, n, exc):
    """The n-th prediction file fails to be written (the files before it are in place)."""
    real = os.replace
    seen = []

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith(".txt"):
            seen.append(dst)
            if len(seen) == n:
                raise exc
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return seen


@pytest.mark.parametrize("exc, code", [
    (KeyboardInterrupt(), 130),
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), 2),
], ids=["interrupt", "enospc"])
def test_segment_failure_leaves_existing_predictions_as_they_were(tmp_path, capsys,
                                                                  monkeypatch, exc, code):
    """Regression: files were replaced one by one in place, so a Ctrl-C or a full disk after
    the first left new and old predictions mixed (video0 new, video1 and video2 old)."""
    root = tmp_path / "data"
    make_mstcn(root)
    out_dir = tmp_path / "preds"
    old = old_predictions(out_dir)
    seen = fail_on_file(monkeypatch, 2, exc)
    assert main(["segment", str(root), "-K", "3", "-o", str(out_dir), *SEG_FAST]) == code
    assert len(seen) == 2  # the failure did come after a first file was written
    err = capsys.readouterr().err
    assert ("interrupted" if code == 130 else "No space left on device") in err
    assert contents(out_dir) == old
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), OSError(errno.EIO, "I/O error")],
                         ids=["interrupt", "oserror"])
def test_segment_failure_in_the_folder_swap_restores_the_old_folder(tmp_path, capsys,
                                                                    monkeypatch, exc):
    """The staged folder is complete but cannot be moved into place (the old one already
    moved away to its backup name): the old folder is put back."""
    root = tmp_path / "data"
    make_mstcn(root)
    out_dir = tmp_path / "preds"
    old = old_predictions(out_dir)
    real_rename, real_replace = os.rename, os.replace
    calls = []

    def guarded(real):
        def move(src, dst, *args, **kwargs):
            name = Path(src).name
            if Path(dst) == out_dir and name.startswith(".preds.") and name.endswith(".tmp"):
                calls.append(src)
                raise exc
            return real(src, dst, *args, **kwargs)
        return move

    monkeypatch.setattr(os, "rename", guarded(real_rename))
    monkeypatch.setattr(os, "replace", guarded(real_replace))
    assert main(["segment", str(root), "-K", "3", "-o", str(out_dir), *SEG_FAST]) in (2, 130)
    assert calls, "the staged folder was never moved into place"
    assert contents(out_dir) == old
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("fresh, step", [(False, 1), (False, 2), (True, 1)],
                         ids=["existing-backup", "existing-into-place", "new-into-place"])
@pytest.mark.parametrize("when", ["before", "after"])
def test_replace_folder_undoes_a_swap_interrupted_at_any_step(tmp_path, monkeypatch, fresh,
                                                              step, when):
    """A Ctrl-C can land just before or just after each rename of the swap (the old folder
    to its backup, the staged folder into place): the folder ends as it was."""
    from seqot.utils._files import replace_folder

    out_dir = tmp_path / "preds"
    old = {} if fresh else old_predictions(out_dir)
    real = os.rename
    calls = []

    def rename(src, dst):
        calls.append(src)
        if len(calls) == step and when == "after":
            real(src, dst)
        if len(calls) == step:
            raise KeyboardInterrupt
        real(src, dst)

    def fill(folder):
        (folder / "video0.txt").write_text("new\n")
        monkeypatch.setattr(os, "rename", rename)

    with pytest.raises(KeyboardInterrupt):
        replace_folder(out_dir, fill)
    monkeypatch.setattr(os, "rename", real)
    if fresh:
        assert not out_dir.exists()
    else:
        assert contents(out_dir) == old
    assert leftovers(tmp_path) == []


def test_segment_failure_into_a_new_folder_leaves_no_folder(tmp_path, capsys, monkeypatch):
    root = tmp_path / "data"
    make_mstcn(root)
    out_dir = tmp_path / "new" / "preds"
    fail_on_file(monkeypatch, 2, KeyboardInterrupt())
    assert main(["segment", str(root), "-K", "3", "-o", str(out_dir), *SEG_FAST]) == 130
    assert not (tmp_path / "new").exists()
    assert leftovers(tmp_path) == []


def test_segment_replaces_an_existing_folder_as_a_whole(tmp_path, capsys):
    """Files of the old folder that the run does not write (video9.txt) go, as --help says."""
    root = tmp_path / "data"
    names = make_mstcn(root)
    out_dir = tmp_path / "preds"
    old_predictions(out_dir)
    old = os.umask(0o022)
    try:
        assert main(["segment", str(root), "-K", "3", "-o", str(out_dir), *SEG_FAST]) == 0
    finally:
        os.umask(old)
    new = contents(out_dir)
    assert sorted(new) == [f"{n}.txt" for n in names]
    assert all(len(text.splitlines()) == 40 and set(text.splitlines()) <= set(ACTIONS)
               | {f"cluster_{k}" for k in range(3)} for text in new.values())
    assert leftovers(tmp_path) == []
    import stat

    assert stat.S_IMODE(out_dir.stat().st_mode) == 0o755


@pytest.mark.parametrize("intruder", ["notes.md", "sub/"])
def test_segment_refuses_to_replace_a_folder_with_other_files(tmp_path, capsys, intruder):
    """The folder is replaced as a whole: one that holds more than .txt predictions (a
    mistyped --output such as the data set's own folder) is refused before any work."""
    root = tmp_path / "data"
    make_mstcn(root)
    out_dir = tmp_path / "preds"
    old = old_predictions(out_dir)
    if intruder.endswith("/"):
        (out_dir / intruder).mkdir()
    else:
        (out_dir / intruder).write_text("keep me")
    message = run_error(capsys, ["segment", str(root), "-K", "3", "-o", str(out_dir),
                                 *SEG_FAST])
    assert "--output" in message and intruder.rstrip("/") in message
    assert {k: v for k, v in contents(out_dir).items() if k in old} == old
    message = run_error(capsys, ["segment", str(root), "-K", "3", "-o", str(root), *SEG_FAST])
    assert "--output" in message


def test_segment_help_says_the_output_folder_is_replaced(capsys):
    assert main(["segment", "--help"]) == 0
    assert "replaced as a whole" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("command, option, value", [
    ("segment", "--n-actions", "0"), ("segment", "--n-actions", "three"),
    ("segment", "--n-actions", "1000"), ("segment", "-K", "0"),
    ("segment", "--features-dir", "nowhere"), ("segment", "--split", "nope.bundle"),
    ("segment", "--output", "FILE"), ("segment", "--epochs", "0"),
    ("segment", "--epochs", "2.5"), ("segment", "--rho", "-1"), ("segment", "--rho", "nan"),
    ("segment", "--rho", "inf"), ("segment", "--rho", "x"),
    ("segment", "--background", "nothing"), ("segment", "--length-mismatch", "pad"),
    ("segment", "--subsample", "0"), ("segment", "--standardize", "=1"),
    ("segment", "--time-major", "=1"), ("segment", "--random-state", "-1"),
    ("segment", "--random-state", str(2**70)), ("segment", "--random-state", "x"),
    ("segment", "--device", "gpu7"), ("segment", "--quiet", "=1"),
    ("fewshot", "--labels", "nope.csv"), ("fewshot", "--labels", "EMPTY"),
    ("fewshot", "--n-way", "1"), ("fewshot", "--n-way", "4"), ("fewshot", "--n-shot", "0"),
    ("fewshot", "--n-query", "0"), ("fewshot", "--n-query", "4"),
    ("fewshot", "--episodes", "0"), ("fewshot", "--method", "knn"),
    ("fewshot", "--n-segments", "-1"), ("fewshot", "--n-segments", str(10**20)),
    ("fewshot", "--transpose", "=1"), ("fewshot", "--output", "DIR"),
    ("fewshot", "--random-state", "-1"), ("fewshot", "--random-state", str(2**32)),
    ("fewshot", "--device", "gpu7"), ("fewshot", "--quiet", "=1"),
    ("demo", "--quick", "=1"), ("demo", "--quiet", "=1"), ("demo", "--quick-mode", ""),
])
def test_every_option_error_names_the_option(tmp_path, capsys, command, option, value):
    """Regression: --random-state -1 said "expected non-negative integer" and 2**70 was
    accepted by segment (fewshot then failed naming the Python argument random_state)."""
    if value == "FILE":
        value = str(tmp_path / "file")
        Path(value).write_text("x")
    elif value == "DIR":
        value = str(tmp_path)
    elif value == "EMPTY":
        value = str(tmp_path / "empty.csv")
        Path(value).write_text("")
    if command == "segment":
        root = tmp_path / "data"
        make_mstcn(root)
        argv = ["segment", str(root), "-K", "3", *SEG_FAST]
    elif command == "fewshot":
        feats, labels = make_fewshot(tmp_path)
        argv = ["fewshot", str(feats), "--labels", str(labels), "--method", "cmot", *FS_FAST]
    else:
        argv = ["demo"]
    argv += [option + value] if value.startswith("=") or not value else [option, value]
    message = run_error(capsys, argv)
    assert ("--n-actions" if option == "-K" else option) in message, message


@pytest.mark.parametrize("case", [
    "no_root", "no_features", "bad_split", "length_mismatch", "bad_shape", "bad_background",
    "output_is_file", "bad_device", "bad_k", "bad_epochs", "bad_rho", "bad_mismatch_choice",
    "missing_k", "empty_npy", "mps_device", "meta_device",
])
def test_segment_errors(tmp_path, capsys, case):
    root = tmp_path / "data"
    make_mstcn(root)
    argv = ["segment", str(root), "--n-actions", "3", *SEG_FAST]
    expect = None
    if case == "no_root":
        argv[1] = str(tmp_path / "nowhere")
        expect = "does not exist"
    elif case == "no_features":
        argv += ["--features-dir", "feats"]
        expect = "feats"
    elif case == "bad_split":
        argv += ["--split", "nope.bundle"]
        expect = "nope.bundle"
    elif case == "length_mismatch":
        np.save(root / "features" / "video1.npy", np.zeros((4, 39), np.float32))
        expect = "pass --length-mismatch truncate"  # the flag, not the Python argument
    elif case == "bad_shape":
        np.save(root / "features" / "video1.npy", np.zeros((4, 39, 2), np.float32))
        expect = "2-D"
    elif case == "bad_background":
        argv += ["--background", "nothing"]
        expect = "nothing"
    elif case == "output_is_file":
        (tmp_path / "file").write_text("x")
        argv += ["--output", str(tmp_path / "file")]
        expect = "not a folder"
    elif case == "bad_device":
        argv[argv.index("cpu")] = "gpu7"
        expect = "--device"
    elif case == "bad_k":
        argv[3] = "0"
        expect = "--n-actions"
    elif case == "bad_epochs":
        argv[argv.index("--epochs") + 1] = "two"
        expect = "--epochs"
    elif case == "bad_rho":
        argv += ["--rho", "-1"]
        expect = "--rho"
    elif case == "bad_mismatch_choice":
        argv += ["--length-mismatch", "pad"]
        expect = "--length-mismatch"
    elif case == "missing_k":
        del argv[2:4]
        expect = "--n-actions"
    elif case == "empty_npy":  # regression: EOFError traceback
        (root / "features" / "video1.npy").write_bytes(b"")
        expect = "video1.npy"
    elif case in ("mps_device", "meta_device"):  # regression: tracebacks deep inside the fit
        argv[argv.index("cpu")] = case.split("_")[0]
        expect = "--device"
    message = run_error(capsys, argv)
    assert expect in message, message
    assert not (root / "predictions").exists()
    assert not any(p.name.endswith(".tmp") for p in tmp_path.rglob("*"))


def test_segment_with_truncate_and_background(tmp_path, capsys):
    root = tmp_path / "data"
    make_mstcn(root)
    np.save(root / "features" / "video1.npy",
            np.load(root / "features" / "video1.npy")[:, :38])
    out_dir = tmp_path / "p"
    assert main(["segment", str(root), "--n-actions", "2", "--background", "drink",
                 "--length-mismatch", "truncate", "--output", str(out_dir), *SEG_FAST]) == 0
    assert "MoF" in capsys.readouterr().out
    assert len((out_dir / "video1.txt").read_text().splitlines()) == 38


def test_segment_help_subprocess():
    res = subprocess.run([sys.executable, "-m", "seqot", "segment", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    for option in ("--n-actions", "--features-dir", "--split", "--output", "--epochs", "--rho",
                   "--background", "--length-mismatch", "--subsample", "--standardize",
                   "--random-state", "--device", "--quiet", "groundTruth"):
        assert option in res.stdout


def test_help_of_every_command(capsys):
    for argv in (["--help"], ["fewshot", "--help"], ["demo", "--help"]):
        assert main(argv) == 0
    out = capsys.readouterr().out
    assert "segment" in out and "--n-way" in out and "--quick" in out
    assert main([]) == 2
    assert main(["nonsense"]) == 2


# --------------------------------------------------------------------------- fewshot


@pytest.mark.parametrize("method", ["cmot", "mean", "dtw", "deepemd"])
def test_fewshot_methods(tmp_path, capsys, method):
    feats, labels = make_fewshot(tmp_path)
    argv = ["fewshot", str(feats), "--labels", str(labels), "--method", method,
            "--n-segments", "4", *FS_FAST]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"{method}: 3-way 1-shot accuracy" in out and "±" in out
    acc = float(out.split("accuracy")[1].split("±")[0])
    assert 0 <= acc <= 100
    if method == "mean":  # well-separated classes
        assert acc > 80


def test_fewshot_json_output_transpose(tmp_path, capsys):
    feats, labels = make_fewshot(tmp_path)
    for p in feats.iterdir():
        np.save(p, np.load(p).T)
    out_file = tmp_path / "res" / "results.json"
    assert main(["fewshot", str(feats), "--labels", str(labels), "--method", "mean",
                 "--transpose", "--output", str(out_file), *FS_FAST]) == 0
    res = json.loads(out_file.read_text())
    assert res["method"] == "mean" and res["n_way"] == 3 and res["n_episodes"] == 4
    assert len(res["episode_accuracies"]) == 4 and 0 <= res["accuracy"] <= 1
    assert res["ci95"] >= 0 and res["n_videos"] == 12 and res["n_classes"] == 3
    assert res["n_features"] == 5
    printed = capsys.readouterr().out
    assert f"{100 * res['accuracy']:.2f} ± {100 * res['ci95']:.2f}%" in printed


@pytest.mark.parametrize("case", [
    "no_dir", "no_labels", "no_header", "missing_column", "unknown_video", "inconsistent_d",
    "bad_ndim", "too_few_classes", "too_few_for_queries", "duplicate",
    "empty_csv", "pickle", "nan", "bad_way", "bad_method", "output_is_dir", "bad_device",
    "missing_labels_option",
])
def test_fewshot_errors(tmp_path, capsys, case):
    feats, labels = make_fewshot(tmp_path)
    out_file = tmp_path / "out" / "r.json"
    argv = ["fewshot", str(feats), "--labels", str(labels), "--method", "mean",
            "--output", str(out_file), *FS_FAST]
    text = labels.read_text()
    if case == "no_dir":
        argv[1] = str(tmp_path / "nowhere")
        expect = "does not exist"
    elif case == "no_labels":
        argv[3] = str(tmp_path / "nope.csv")
        expect = "nope.csv"
    elif case == "no_header":
        labels.write_text(text.split("\n", 1)[1])
        expect = "header"
    elif case == "missing_column":
        labels.write_text(text.replace("video,label", "video,class"))
        expect = "label"
    elif case == "unknown_video":
        labels.write_text(text + "ghost,class0\n")
        expect = "ghost"
    elif case == "inconsistent_d":
        np.save(feats / "c1_v2.npy", np.zeros((12, 6), np.float32))
        expect = "c1_v2"
    elif case == "bad_ndim":
        np.save(feats / "c0_v1.npy", np.zeros(12, np.float32))
        expect = "2-D"
    elif case == "too_few_classes":
        argv[argv.index("--n-way") + 1] = "4"
        expect = "--n-way"
    elif case == "too_few_for_queries":
        argv[argv.index("--n-query") + 1] = "4"
        expect = "--n-query"
    elif case == "duplicate":
        labels.write_text(text + "c0_v0,class1\n")
        expect = "c0_v0"
    elif case == "empty_csv":
        labels.write_text("")
        expect = "empty"
    elif case == "pickle":
        np.save(feats / "c2_v0.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        expect = "c2_v0"
    elif case == "nan":
        x = np.load(feats / "c2_v3.npy")
        x[3, 1] = np.nan
        np.save(feats / "c2_v3.npy", x)
        expect = "NaN"
    elif case == "bad_way":
        argv[argv.index("--n-way") + 1] = "1"
        expect = "--n-way"
    elif case == "bad_method":
        argv[argv.index("mean")] = "knn"
        expect = "--method"
    elif case == "output_is_dir":
        out_file.mkdir(parents=True)
        expect = "folder"
    elif case == "bad_device":
        argv[argv.index("cpu")] = "gpu7"
        expect = "--device"
    elif case == "missing_labels_option":
        del argv[2:4]
        expect = "--labels"
    message = run_error(capsys, argv)
    assert expect in message, message
    if case != "output_is_dir":
        assert not out_file.parent.exists()


def test_demo_dispatch(monkeypatch):
    """``seqot demo --quick --quiet`` reaches run_demo unchanged (the demo itself is slow)."""
    import seqot._demo

    calls = []
    monkeypatch.setattr(seqot._demo, "run_demo", lambda **kw: calls.append(kw))
    assert main(["demo", "--quick", "--quiet"]) == 0
    assert calls == [dict(quick=True, verbose=False, out=sys.stdout)]
