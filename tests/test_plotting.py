"""seqot.plotting: artists drawn, inputs validated (Agg backend, figures closed)."""

import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from seqot.plotting import (  # noqa: E402
    plot_alignment,
    plot_kernel_matrix,
    plot_segmentation,
    plot_transport_plan,
)
from seqot.utils.estimator_checks import (  # noqa: E402
    check_function_constraint,
    function_constraint_cases,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _facecolors(ax):
    return [tuple(p.get_facecolor()) for p in ax.patches]


# --------------------------------------------------------------------------- segmentation


def test_plot_segmentation_bars_rows_and_colours():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2])  # 3 segments
    y_pred = np.array([0, 0, 1, 1, 1, 1, 2, 2])  # 3 segments
    ax = plot_segmentation(y_pred, y_true, title="video 1")
    assert len(ax.patches) == 6
    assert [t.get_text() for t in ax.get_yticklabels()] == ["prediction", "ground truth"]
    assert ax.get_title() == "video 1" and ax.get_xlabel() == "frame"
    assert ax.get_xlim() == (0.0, 8.0)
    # GT bars first (top row), lengths and positions follow the runs
    gt = ax.patches[:3]
    assert [p.get_x() for p in gt] == [0, 3, 5]
    assert [p.get_width() for p in gt] == [3, 2, 3]
    assert {p.get_y() + p.get_height() / 2 for p in gt} == {1.0}
    # the same label has the same colour in both rows, different labels differ
    colours = _facecolors(ax)
    assert colours[0] == colours[3] and colours[1] == colours[4] and colours[2] == colours[5]
    assert len({colours[0], colours[1], colours[2]}) == 3
    assert ax.get_legend() is None  # no names, no legend


def test_plot_segmentation_legend_with_action_names_and_background():
    y = np.array([-1, -1, 0, 0, 2, 2])
    ax = plot_segmentation(y, action_names=["pour", "stir", "whisk"])
    assert len(ax.patches) == 3
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["background", "pour", "whisk"]
    grey = _facecolors(ax)[0]
    assert grey[0] == grey[1] == grey[2]  # background is grey
    assert [t.get_text() for t in ax.get_yticklabels()] == ["prediction"]
    # a mapping that names the background
    ax = plot_segmentation(y, action_names={-1: "background", 0: "pour", 2: "whisk"})
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["background", "pour",
                                                                    "whisk"]


def test_plot_segmentation_several_predictions_in_given_axes():
    fig, ax = plt.subplots()
    preds = {"ASOT": [0, 0, 1, 1], "k-means": [0, 1, 0, 1], "Viterbi": [1, 1, 1, 1]}
    out = plot_segmentation(preds, [0, 0, 1, 1], ax=ax, cmap="viridis")
    assert out is ax
    assert len(ax.patches) == 2 + 2 + 4 + 1
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Viterbi", "k-means", "ASOT",
                                                            "ground truth"]


def test_plot_segmentation_accepts_torch_and_whole_floats():
    torch = pytest.importorskip("torch")
    ax = plot_segmentation(torch.tensor([0, 1, 1]), np.array([0.0, 0.0, 1.0]))
    assert len(ax.patches) == 4


@pytest.mark.parametrize("y_pred, y_true, kwargs, match", [
    ([0, 1, 1], [0, 1], {}, "same number of frames.*'ground truth' has 2.*'prediction' has 3"),
    ({"a": [0, 1], "b": [0]}, None, {}, "same number of frames"),
    ({}, None, {}, "empty dict"),
    ([[0, 1], [1, 0]], None, {}, "1-D"),
    ([], None, {}, "the video has no frames"),
    ([0.5, 1.0], None, {}, "labels must be integers"),
    ([0, 3], None, {"action_names": ["a", "b"]}, "label 3 has no entry"),
])
def test_plot_segmentation_invalid_input(y_pred, y_true, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_segmentation(y_pred, y_true, **kwargs)


# --------------------------------------------------------------------------- plans


def test_plot_transport_plan_image_labels_and_aspect():
    rng = np.random.default_rng(0)
    plan = rng.random((60, 4))
    plan /= plan.sum(1, keepdims=True)
    ax = plot_transport_plan(plan, title="ASOT plan")
    np.testing.assert_array_equal(ax.images[0].get_array(), plan)
    assert ax.get_xlabel() == "action" and ax.get_ylabel() == "frame"
    assert ax.get_title() == "ASOT plan"
    assert ax.get_aspect() == "auto"  # tall plan fills the axes
    assert len(ax.figure.axes) == 2  # the colour bar

    ax = plot_transport_plan(np.eye(5), x_label="j", y_label="i", colorbar=False)
    assert ax.get_aspect() == 1.0  # "equal" for a square matrix
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("j", "i")
    assert len(ax.figure.axes) == 1
    ax = plot_transport_plan(np.eye(5), aspect="auto", colorbar=False)
    assert ax.get_aspect() == "auto"


def test_plot_transport_plan_torch_tensor():
    torch = pytest.importorskip("torch")
    t = torch.rand(6, 3, dtype=torch.float64, requires_grad=True)
    ax = plot_transport_plan(t)
    np.testing.assert_array_equal(ax.images[0].get_array(), t.detach().numpy())


@pytest.mark.parametrize("plan", [np.zeros(5), np.zeros((2, 3, 4)), np.zeros((0, 3)),
                                  np.array([["a", "b"]])])
def test_plot_transport_plan_invalid(plan):
    with pytest.raises(ValueError, match="plan must be"):
        plot_transport_plan(plan)


# --------------------------------------------------------------------------- alignments


def test_plot_alignment_with_index_path():
    plan = np.eye(5)[:, [0, 1, 1, 2, 4]][:, :5]
    path = [(0, 0), (1, 1), (2, 1), (3, 2), (4, 4)]
    ax = plot_alignment(plan, true_path=path, title="TAP")
    np.testing.assert_array_equal(ax.images[0].get_array(), plan)
    line = ax.lines[0]
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 1, 2, 4])  # columns on x
    np.testing.assert_array_equal(line.get_ydata(), [0, 1, 2, 3, 4])  # rows on y
    assert line.get_label() == "ground truth"
    assert ax.get_ylim() == (4.5, -0.5)  # row 0 at the top, like the image
    assert ax.get_title() == "TAP"


def test_plot_alignment_with_matrix_path_draws_row_barycentres():
    A = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    ax = plot_alignment(np.ones((4, 3)), true_path=A)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0.0, 1.5, 2.0])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.0, 1.0, 3.0])  # empty row skipped


def test_plot_alignment_without_path():
    ax = plot_alignment(np.ones((3, 4)))
    assert len(ax.lines) == 0 and ax.get_legend() is None
    assert ax.get_xlabel() == "sequence 2 (frame)"


@pytest.mark.parametrize("plan, path, match", [
    (np.zeros(4), None, "plan must be"),
    (np.ones((3, 3)), [(0, 0), (3, 1)], "outside the plan"),
    (np.ones((3, 3)), [(0, 0, 0)], r"\(L, 2\)"),
    (np.ones((3, 3)), [(0.5, 1.0)], "integers"),
    (np.ones((3, 3)), -np.eye(3), "non-negative"),
    (np.ones((3, 3)), np.zeros((3, 3)), "no mass"),
])
def test_plot_alignment_invalid(plan, path, match):
    with pytest.raises(ValueError, match=match):
        plot_alignment(plan, true_path=path)


# --------------------------------------------------------------------------- kernels


def test_plot_kernel_matrix_sorted_by_label_with_boundaries():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(7, 3))
    K = Z @ Z.T
    labels = np.array(["b", "a", "c", "a", "b", "c", "a"])
    ax = plot_kernel_matrix(K, labels, title="Gram")
    order = np.argsort(labels, kind="stable")  # a a a b b c c
    np.testing.assert_array_equal(order, [1, 3, 6, 0, 4, 2, 5])
    np.testing.assert_array_equal(ax.images[0].get_array(), K[np.ix_(order, order)])
    assert len(ax.lines) == 4  # 2 boundaries, horizontal and vertical
    positions = sorted({line.get_ydata()[0] for line in ax.lines if line.get_ydata()[0]
                        == line.get_ydata()[1]})
    assert positions == [2.5, 4.5]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    np.testing.assert_allclose(ax.get_xticks(), [1.0, 3.5, 5.5])
    assert ax.get_title() == "Gram"


def test_plot_kernel_matrix_without_labels():
    K = np.arange(9.0).reshape(3, 3)
    ax = plot_kernel_matrix(K, colorbar=False)
    np.testing.assert_array_equal(ax.images[0].get_array(), K)
    assert len(ax.lines) == 0


@pytest.mark.parametrize("K, labels, match", [
    (np.ones((3, 4)), None, "square"),
    (np.ones(3), None, "K must be"),
    (np.eye(3), [0, 1], "length 3"),
    (np.eye(3), [[0, 1, 2]], "length 3"),
])
def test_plot_kernel_matrix_invalid(K, labels, match):
    with pytest.raises(ValueError, match=match):
        plot_kernel_matrix(K, labels)


# --------------------------------------------------------------------------- declared constraints
# The drawing options are declared constraints; the data arguments (checked by the functions
# themselves, tests above) are not.
_VALID_CALLS = [(plot_segmentation, ([0, 0, 1],)), (plot_transport_plan, (np.eye(2),)),
                (plot_alignment, (np.eye(2),)), (plot_kernel_matrix, (np.eye(2),))]


@pytest.mark.parametrize("case", [
    pytest.param(c, id=f"{c[0].__name__}-{c[3]}-{i}")
    for func, args in _VALID_CALLS for i, c in enumerate(function_constraint_cases(func, args))])
def test_parameter_constraints(case):
    check_function_constraint(*case)


def test_aspect_number_and_colormap_object_pass_the_constraints():
    ax = plot_transport_plan(np.eye(3), aspect=2.0, cmap=matplotlib.colormaps["magma"])
    assert ax.get_aspect() == 2.0
    ax = plot_segmentation([0, 1], cmap=matplotlib.colormaps["tab10"], action_names=("a", "b"))
    assert len(ax.patches) == 2


# --------------------------------------------------------------------------- optional dep


def test_seqot_imports_without_matplotlib_and_plotting_says_how_to_install():
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"
        "sys.modules['matplotlib.pyplot'] = None\n"
        "import seqot, seqot.segmentation, seqot.plotting\n"
        "try:\n"
        "    seqot.plotting.plot_transport_plan([[1.0]])\n"
        "except ImportError as e:\n"
        "    assert 'pip install seqot[plot]' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
