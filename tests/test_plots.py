"""Figure helpers: readable text, titles and labels checked, runs that did not converge drawn hollow."""

import pytest

pytest.importorskip("matplotlib")  # the plots extra; figures are skipped (and say so) without it

from matplotlib.colors import to_rgba  # noqa: E402

from kernelreg.bench._plots import (  # noqa: E402
    MIN_FONT_PT,
    NOT_CONVERGED,
    add_legend,
    converged,
    draw_bars,
    draw_points,
    figure_problems,
    new_figure,
    save_figure,
)


def test_figure_problems_names_missing_title_labels_and_small_text():
    fig, axes = new_figure(1, 2)
    for ax in axes[0]:
        ax.plot([0, 1], [0, 1])
    axes[0, 0].tick_params(labelsize=7)
    problems = figure_problems(fig)
    assert f"text smaller than {MIN_FONT_PT:g} pt: [7.0]" in problems
    assert "axes 0: no x-axis label" in problems and "axes 1: no y-axis label" in problems
    assert "axes 1: no title (and no figure title)" in problems
    for ax in axes[0]:
        ax.set(xlabel="x (m)", ylabel="y (s)")
    fig.suptitle("one title for both panels")
    axes[0, 0].tick_params(labelsize=10)
    assert figure_problems(fig) == []


def test_new_figure_defaults_and_save_raise_text_to_the_minimum(tmp_path):
    fig, axes = new_figure(title="t")
    ax = axes[0, 0]
    ax.plot([1, 2], [3, 4])
    ax.set(xlabel="x", ylabel="y")
    assert min(t.get_fontsize() for t in ax.get_xticklabels()) >= MIN_FONT_PT  # the style's tick labels
    ax.set_xlabel("x (units)", fontsize=6)
    ax.legend(["line"], fontsize=5)
    path = save_figure(fig, tmp_path / "f.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert ax.xaxis.label.get_fontsize() == MIN_FONT_PT and ax.get_legend().get_texts()[0].get_fontsize() == MIN_FONT_PT
    assert figure_problems(fig) == []


def test_not_converged_runs_are_hollow_with_a_legend_entry():
    assert converged("optimal") and not converged("max_iter") and not converged("inaccurate") and not converged(None)
    fig, axes = new_figure()
    ax = axes[0, 0]
    draw_bars(ax, [0, 1, 2], [1.0, 2.0, 3.0], 0.8, [True, False, True], color="C0", label="size A")
    draw_points(ax, [0, 1, 2], [1.0, 1.5, 2.5], [False, True, True], color="C1", label="GD")
    bars = ax.patches
    hollow = [b for b in bars if b.get_facecolor()[3] == 0]
    assert len(bars) == 3 and len(hollow) == 1 and hollow[0].get_hatch() == "//"
    assert hollow[0].get_x() + hollow[0].get_width() / 2 == pytest.approx(1.0)
    assert hollow[0].get_edgecolor() == pytest.approx(to_rgba("C0"))
    filled_points, hollow_points = ax.collections
    assert len(filled_points.get_offsets()) == 2 and len(hollow_points.get_offsets()) == 1
    assert hollow_points.get_facecolors().size == 0 or hollow_points.get_facecolors()[0][3] == 0
    labels = [t.get_text() for t in add_legend(ax, not_converged=True).get_texts()]
    assert sorted(labels[:-1]) == ["GD", "size A"] and labels[-1] == NOT_CONVERGED
    labels = [t.get_text() for t in add_legend(ax, not_converged=False, kind="bar").get_texts()]
    assert sorted(labels) == ["GD", "size A"]
