"""Report figures: matplotlib (Agg) and seaborn, one PNG each, emotion names on the axes and
one fixed colour per class across every figure."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
from sklearn.metrics import auc, roc_curve  # noqa: E402
from sklearn.preprocessing import label_binarize  # noqa: E402

from ..core.labels import CLASS_NAMES  # noqa: E402
from ..core.metrics import calibration_bins  # noqa: E402
from ..core.rundata import SeedRun  # noqa: E402

CLASS_COLORS = dict(zip(CLASS_NAMES, sns.color_palette("tab10", len(CLASS_NAMES))))
SEED_STYLES = ["-", "--", ":", "-."]
DPI = 100
plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.dpi": DPI})


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return path


def training_curves(runs: list[SeedRun], title: str, path: Path) -> Path:
    """Train vs validation accuracy and loss per epoch, every seed; learning-rate drops (v) and
    the best epoch, whose weights were kept (o), marked on the validation loss."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for k, r in enumerate(runs):
        h = r.history
        ep = h["epoch"].to_numpy() + 1
        style = SEED_STYLES[k % len(SEED_STYLES)]
        for ax, key in zip(axes, ("accuracy", "loss")):
            ax.plot(ep, h[key], style, color="tab:blue", label=f"train, seed {r.seed}")
            ax.plot(ep, h[f"val_{key}"], style, color="tab:orange", label=f"val, seed {r.seed}")
        if "learning_rate" in h:  # logged by the LR schedule, when the protocol has one
            lr = h["learning_rate"].to_numpy()
            drops = np.flatnonzero(lr[1:] < lr[:-1]) + 1
            axes[1].plot(ep[drops], h["val_loss"].to_numpy()[drops], "v", color="tab:red",
                         label="LR reduced" if k == 0 else None)
        best = int(np.argmin(h["val_loss"].to_numpy()))
        axes[1].plot(ep[best], h["val_loss"].iloc[best], "o", mfc="none", ms=10, color="black",
                     label="best epoch (kept)" if k == 0 else None)
        axes[1].axvline(ep[-1], color="grey", lw=0.6, ls=style)
    # A model stuck on its initial plateau predicts the largest class: its accuracy sits on
    # this line (the share of the largest class among the test labels, as stratified
    # validation has it), which makes a stuck run obvious.
    majority = runs[0].largest_class[1]
    axes[0].axhline(majority, color="grey", ls=":", lw=1)
    axes[0].annotate("largest class only", (1, majority), fontsize=7, color="grey",
                     xytext=(0, 3), textcoords="offset points")
    axes[0].set(title=f"{title}: accuracy", xlabel="epoch", ylabel="accuracy")
    axes[1].set(title=f"{title}: loss (grey lines: last epoch)", xlabel="epoch",
                ylabel="categorical cross-entropy")
    axes[1].legend(fontsize=7, ncol=2)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    return _save(fig, path)


def confusion(runs: list[SeedRun], title: str, path: Path) -> Path:
    """Counts and row-normalised confusion matrices, pooled over seeds."""
    cm = sum(np.array(r.metrics["confusion_matrix"]) for r in runs)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    sns.heatmap(cm, annot=True, fmt="d", cmap="Blues", ax=axes[0], cbar=False,
                xticklabels=CLASS_NAMES, yticklabels=CLASS_NAMES)
    sns.heatmap(norm, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, ax=axes[1],
                xticklabels=CLASS_NAMES, yticklabels=CLASS_NAMES)
    seeds = ", ".join(str(r.seed) for r in runs)
    axes[0].set(title=f"{title}: counts (seeds {seeds} pooled)", xlabel="predicted",
                ylabel="true")
    axes[1].set(title=f"{title}: row-normalised (recall on the diagonal)", xlabel="predicted",
                ylabel="true")
    for ax in axes:
        ax.set_yticklabels(CLASS_NAMES, rotation=0)
        ax.set_xticklabels(CLASS_NAMES, rotation=30, ha="right")
    return _save(fig, path)


def roc(runs: list[SeedRun], title: str, path: Path) -> Path:
    """One-vs-rest ROC per class with AUC, plus micro and macro averages, seeds pooled."""
    y = np.concatenate([r.y for r in runs])
    p = np.concatenate([r.probs for r in runs])
    onehot = label_binarize(y, classes=np.arange(len(CLASS_NAMES)))
    fig, ax = plt.subplots(figsize=(6.5, 6))
    grid = np.linspace(0, 1, 501)
    tprs = []
    for c, name in enumerate(CLASS_NAMES):
        if 0 < onehot[:, c].sum() < len(y):
            fpr, tpr, _ = roc_curve(onehot[:, c], p[:, c])
            tprs.append(np.interp(grid, fpr, tpr))
            ax.plot(fpr, tpr, color=CLASS_COLORS[name], lw=1.3,
                    label=f"{name} (AUC {auc(fpr, tpr):.3f})")
    fpr, tpr, _ = roc_curve(onehot.ravel(), p.ravel())
    ax.plot(fpr, tpr, "k--", lw=1.5, label=f"micro-average (AUC {auc(fpr, tpr):.3f})")
    macro = np.mean(tprs, axis=0)
    ax.plot(grid, macro, "k:", lw=2, label=f"macro-average (AUC {auc(grid, macro):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.6)
    ax.set(title=f"{title}: one-vs-rest ROC", xlabel="false positive rate",
           ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def _example_rows(ex: dict, per_row: int) -> list[tuple[str, np.ndarray]]:
    """Correct predictions with the lowest confidence (hard cases) and wrong ones with the
    highest, among the run's saved example images (the first test images, not hand-picked)."""
    pred = ex["probs"].argmax(1)
    conf = ex["probs"].max(1)
    right = np.flatnonzero(pred == ex["labels"])
    wrong = np.flatnonzero(pred != ex["labels"])
    return [("correct, least confident", right[np.argsort(conf[right])][:per_row]),
            ("wrong, most confident", wrong[np.argsort(-conf[wrong])][:per_row])]


def _face_grid(run: SeedRun, title: str, path: Path, per_row: int, maps: np.ndarray | None
               ) -> Path:
    ex = run.examples
    pred, conf = ex["probs"].argmax(1), ex["probs"].max(1)
    fig, axes = plt.subplots(2, per_row, figsize=(2.2 * per_row, 5.4))
    for (label, idx), row in zip(_example_rows(ex, per_row), axes):
        for ax in row:
            ax.axis("off")
        for ax, i in zip(row, idx):
            # nearest-neighbour: a 48x48 face is shown as its pixels, not smoothed
            ax.imshow(ex["images"][i, :, :, 0], cmap="gray", vmin=0, vmax=255,
                      interpolation="nearest")
            if maps is not None:
                ax.imshow(maps[i], cmap="jet", alpha=0.4, vmin=0, vmax=255,
                          interpolation="bilinear")
            ok = pred[i] == ex["labels"][i]
            ax.set_title(f"true {CLASS_NAMES[ex['labels'][i]]}\npred {CLASS_NAMES[pred[i]]} "
                         f"({conf[i]:.0%})", fontsize=9, color="darkgreen" if ok else "darkred")
        row[0].text(-0.15, 0.5, label, transform=row[0].transAxes, rotation=90, va="center",
                    ha="right", fontsize=9)
    fig.suptitle(title)
    return _save(fig, path)


def examples_grid(run: SeedRun, title: str, path: Path, per_row: int = 5) -> Path:
    """Hard correct and confident wrong predictions among the run's example images."""
    return _face_grid(run, f"{title}, seed {run.seed}: examples from the first "
                      f"{len(run.examples['labels'])} test images", path, per_row, None)


def gradcam_grid(run: SeedRun, title: str, path: Path, per_row: int = 5) -> Path:
    """The same examples with their Grad-CAM heat maps (predicted class) over the face."""
    return _face_grid(run, f"{title}, seed {run.seed}: Grad-CAM of the predicted class "
                      f"(layer {run.gradcam['layer']}; red = most weight)", path, per_row,
                      run.gradcam["maps"])


def interaction(runs: list[SeedRun], path: Path, metric: str = "accuracy") -> Path:
    """Mean metric per format for each architecture (+/- one std over seeds), seeds as dots."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    formats = list(dict.fromkeys(r.format for r in runs))
    models = list(dict.fromkeys(r.model for r in runs))
    for k, m in enumerate(models):
        means, stds = [], []
        for f in formats:
            vals = [r.metrics[metric] * 100 for r in runs if r.format == f and r.model == m]
            means.append(np.mean(vals) if vals else np.nan)
            stds.append(np.std(vals, ddof=1) if len(vals) > 1 else 0.0)
            x = formats.index(f) + (k - (len(models) - 1) / 2) * 0.04
            ax.plot([x] * len(vals), vals, ".", color=f"C{k}", alpha=0.5)
        ax.errorbar(np.arange(len(formats)), means, yerr=stds, marker="o", capsize=4,
                    color=f"C{k}", label=m)
    ax.set_xticks(range(len(formats)), formats)
    ax.set(xlabel="data format", ylabel=f"test {metric} (%)",
           title=f"Interaction plot: {metric} by format and architecture")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def reliability(runs: list[SeedRun], title: str, path: Path, bins: int = 15) -> Path:
    """Accuracy against confidence in equal-width bins (seeds pooled), with the bin counts."""
    b = calibration_bins(np.concatenate([r.y for r in runs]),
                         np.concatenate([r.probs for r in runs]), bins)
    centres = (b["edges"][:-1] + b["edges"][1:]) / 2
    acc, count = b["accuracy"], b["count"]
    fig, (ax, axc) = plt.subplots(2, 1, figsize=(5.5, 6), height_ratios=(3, 1), sharex=True)
    ax.bar(centres, acc, width=1 / bins, edgecolor="black", color="tab:blue", alpha=0.7,
           label="accuracy in bin")
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    ax.set(ylabel="accuracy", title=f"{title}: reliability", ylim=(0, 1))
    ax.legend(fontsize=8)
    axc.bar(centres, count, width=1 / bins, color="grey", edgecolor="black")
    axc.set(xlabel="confidence (max probability)", ylabel="images", xlim=(0, 1))
    return _save(fig, path)


def robustness(rows: list[dict], path: Path) -> Path:
    """Test accuracy against the standard deviation of added Gaussian noise, one line per cell
    (mean over seeds, +/- one std); `rows` as findings.robustness gives them."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, row in enumerate(rows):
        sigmas = list(row["levels"])
        means = [row["levels"][s]["mean"] for s in sigmas]
        stds = [row["levels"][s]["std"] or 0.0 for s in sigmas]
        ax.errorbar(sigmas, means, yerr=stds, marker="o", capsize=3, color=f"C{k}",
                    label=row["cell"])
    ax.set(xlabel="Gaussian noise added to the raw test images (std, grey levels 0-255)",
           ylabel="test accuracy (%)", title="Robustness to noise")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def literature(rows: list[dict], band: dict, path: Path) -> Path:
    """Horizontal bars: the results a paper quotes (grey) and the measured cells (coloured,
    +/- one std over seeds), with the paper's comparison band shaded."""
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(rows) + 1.6))
    y = np.arange(len(rows))[::-1]
    colours = ["C0" if r["ours"] else "0.7" for r in rows]
    ax.barh(y, [r["accuracy"] for r in rows], xerr=[r["std"] or 0 for r in rows],
            color=colours, capsize=3)
    for yi, r in zip(y, rows):
        ax.text(r["accuracy"] + 0.5, yi, f"{r['accuracy']:.1f}", va="center", fontsize=8)
    if band:
        ax.axvspan(band["low"], band["high"], color="C2", alpha=0.15, label=band["label"])
        ax.legend(loc="lower right", fontsize=8)
    # long labels wrapped, so the bars keep the figure's width
    ax.set_yticks(y, [textwrap.fill(r["label"], 40) for r in rows], fontsize=8)
    ax.set(xlabel="FER-2013 test accuracy (%)", xlim=(0, 100),
           title="Measured cells beside the results the paper quotes")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def claims_vs_measured(rows: list[dict], path: Path, title: str) -> Path:
    """One line per claimed accuracy: the paper's number (black diamond) beside what its method
    gives here (dot, +/- one std over seeds; grey and marked when superseded). `rows`: label,
    claimed, mean, std, seeds, superseded."""
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(rows) + 1.5))
    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows):
        colour = "0.6" if r.get("superseded") else "C0"
        ax.plot([r["claimed"], r["mean"]], [yi, yi], color="0.8", lw=1, zorder=1)
        ax.errorbar(r["mean"], yi, xerr=r["std"] or 0, fmt="o", color=colour, capsize=3,
                    zorder=3)
        ax.scatter(r["claimed"], yi, marker="D", color="k", s=22, zorder=4)
    ax.scatter([], [], marker="D", color="k", s=22, label="claimed")
    ax.errorbar([], [], xerr=[], fmt="o", color="C0", label="measured (mean ± sd over seeds)")
    if any(r.get("superseded") for r in rows):
        ax.errorbar([], [], xerr=[], fmt="o", color="0.6", label="superseded (blurred copy)")
    labels = [f"{r['label']} ({r['seeds']} seed{'s' if r['seeds'] != 1 else ''})" for r in rows]
    ax.set_yticks(y, labels, fontsize=8)
    lo = min(min(r["claimed"], r["mean"] - (r["std"] or 0)) for r in rows)
    hi = max(max(r["claimed"], r["mean"] + (r["std"] or 0)) for r in rows)
    ax.set(xlabel="FER-2013 test accuracy (%)", xlim=(max(0, lo - 5), min(100, hi + 5)),
           ylim=(-0.7, len(rows) - 0.3))
    ax.set_title(title, pad=24)
    ax.grid(axis="x", alpha=0.3)
    # above the plot, under the title: it never hides a row
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=7, frameon=False)
    return _save(fig, path)


def claim_rows(table1: list[dict], prefix: str = "", superseded: bool = False) -> list[dict]:
    """The rows of `claims_vs_measured` from a report's table1: its cells with a claimed
    accuracy."""
    return [{"label": f"{prefix}{t['cell']}", "claimed": float(a["paper"]), "mean": a["mean"],
             "std": a["std"], "seeds": len(t["seeds"]), "superseded": superseded}
            for t in table1 if (a := t["metrics"]["accuracy"])["paper"] is not None]


def trial_distribution(val: list[float], test: list[float], pruned: list[float],
                       claim: float | None, title: str, path: Path) -> Path:
    """Every trial of a study, one dot each: a complete trial's validation accuracy (what was
    selected on) and test accuracy (the audit); a pruned trial's validation accuracy at the
    last epoch it reached (it has no test score); the paper's claim as a line."""
    rows = (("pruned: validation, last epoch", pruned, "0.6"), ("validation", val, "C0"),
            ("test (audit)", test, "C1"))
    fig, ax = plt.subplots(figsize=(8.5, 2.9))
    rng = np.random.default_rng(0)  # vertical jitter only, so dots do not hide each other
    for row, (label, values, colour) in enumerate(rows):
        ax.scatter(values, row + rng.uniform(-0.15, 0.15, len(values)), s=18, alpha=0.7,
                   color=colour, label=label)
    if claim is not None:
        ax.axvline(claim, color="C3", ls="--", label=f"claimed {claim:.1f} %")
    ax.set_yticks(range(len(rows)), [label.split(":")[0] for label, _, _ in rows])
    ax.set(xlabel="accuracy (%)", ylim=(-0.5, len(rows) - 0.5),
           title=f"{title}: {len(val)} complete and {len(pruned)} pruned trials")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)  # off the dots
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def importance(values: dict[str, float], title: str, path: Path) -> Path:
    """Optuna's parameter importance (fANOVA), largest first."""
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(items) + 1.2))
    ax.barh([k for k, _ in items], [v for _, v in items], color="C0")
    ax.set(xlabel="importance (share of the validation accuracy's variance)", xlim=(0, 1),
           title=f"{title}: what mattered")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def oracle_curves(curves: list[tuple[str, object, float]], path: Path) -> Path:
    """The best settings' test accuracy after every epoch (an oracle: never used for a
    choice), one line per cell and seed (seed 0 solid, 1 dashed, 2 dotted), each cell's claim
    a wide pale line in its colour, labelled with its value."""
    fig, ax = plt.subplots(figsize=(8, 4.2))
    cells = list(dict.fromkeys(label.rsplit(" seed ", 1)[0] for label, _, _ in curves))
    drawn, seeds = set(), set()  # cells whose legend entry and claim line are drawn (once)
    for label, curve, claim in curves:
        cell, seed = label.rsplit(" seed ", 1)
        seeds.add(int(seed))
        colour = f"C{cells.index(cell)}"
        ax.plot(curve["epoch"], curve["test_accuracy"] * 100, color=colour,
                ls=SEED_STYLES[int(seed) % len(SEED_STYLES)], lw=1.2,
                label=None if cell in drawn else cell)
        if cell in drawn:
            continue
        drawn.add(cell)
        ax.axhline(claim, color=colour, lw=3, alpha=0.35)
        ax.annotate(f"{cell} claim {claim:.1f} %", (1.0, claim), xycoords=("axes fraction", "data"),
                    xytext=(-4, 3), textcoords="offset points", ha="right", fontsize=8,
                    color=colour)
    ax.set(xlabel="epoch", ylabel="test accuracy (%)",
           title="Oracle: test accuracy after every epoch (pale lines: the claims)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    handles = ax.get_legend_handles_labels()[0] + [
        plt.Line2D([], [], color="0.3", lw=1.2, ls=SEED_STYLES[s % len(SEED_STYLES)],
                   label=f"seed {s}") for s in sorted(seeds)]
    ax.legend(handles=handles, fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def accuracy_vs_cost(rows: list[dict], path: Path) -> Path:
    """Each cell's test accuracy (mean, bars: the 95 % interval of one run) against its forward
    FLOPs per image (log scale), labelled with its model: what accuracy each cost buys."""
    rows = [r for r in rows if r["forward_flops"]]
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in rows:
        acc, mflops = r["accuracy"], r["forward_flops"] / 1e6
        ax.errorbar(mflops, acc["mean"], yerr=[[acc["mean"] - acc["low"]],
                                               [acc["high"] - acc["mean"]]],
                    fmt="o", color="C0", capsize=3)
        ax.annotate(r["model"], (mflops, acc["mean"]), textcoords="offset points",
                    xytext=(5, 4), fontsize=8)
    ax.set_xscale("log")
    ax.margins(x=0.15)  # room for the labels right of the last points
    ax.set(xlabel="forward MFLOPs per 48x48 face (log scale)",
           ylabel="test accuracy (%): mean, 95 % interval of one run",
           title="Accuracy against cost, one protocol for every model")
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path)


def mcnemar_grid(rows: list[dict], mcnemar: list[dict]) -> tuple[list[str], np.ndarray,
                                                                   np.ndarray, np.ndarray]:
    """The leaderboard's cells in rank order; for each ordered pair, the row's accuracy minus
    the column's in points, averaged over the seeds both were scored on with the same test
    images (NaN where none), the seeds where McNemar's test gives p < 0.05, and the seeds."""
    order = [r["cell"] for r in rows]
    at = {cell: i for i, cell in enumerate(order)}
    n = len(order)
    diff, hits, seeds = np.full((n, n), np.nan), np.zeros((n, n), int), np.zeros((n, n), int)
    pairs: dict[tuple[int, int], list[tuple[float, float]]] = {}  # (i < j): (i - j, p)
    for t in mcnemar:
        a, b = f"{t['format']}/{t['a']}", f"{t['format']}/{t['b']}"
        if a in at and b in at:
            d = (t["acc_a"] - t["acc_b"]) * 100
            i, j, d = (at[a], at[b], d) if at[a] < at[b] else (at[b], at[a], -d)
            pairs.setdefault((i, j), []).append((d, t["p"]))
    for (i, j), tests in pairs.items():
        d = float(np.mean([t[0] for t in tests]))
        for a, b, sign in ((i, j, 1), (j, i, -1)):
            diff[a, b] = sign * d
            hits[a, b] = sum(t[1] < 0.05 for t in tests)
            seeds[a, b] = len(tests)
    return order, diff, hits, seeds


def mcnemar_matrix(rows: list[dict], mcnemar: list[dict], path: Path) -> Path | None:
    """mcnemar_grid as a picture: each square the row's accuracy minus the column's (colour and
    number) and how many shared seeds McNemar's test finds the difference at p < 0.05 (e.g.
    "2/3"). None when no two cells were scored on the same test images."""
    order, diff, hits, seeds = mcnemar_grid(rows, mcnemar)
    if np.isnan(diff).all():
        return None
    text = np.where(seeds > 0, np.char.add(np.char.add(np.char.mod("%+.1f\n", diff),
                                                       hits.astype(str)),
                                           np.char.add("/", seeds.astype(str))), "")
    size = max(5.0, 0.75 * len(order) + 2)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    bound = float(np.nanmax(np.abs(diff))) or 1.0
    sns.heatmap(diff, annot=text, fmt="", cmap="RdBu", center=0, vmin=-bound, vmax=bound,
                xticklabels=order, yticklabels=order, annot_kws={"fontsize": 7}, ax=ax,
                cbar_kws={"label": "row minus column, accuracy points (mean over seeds)"})
    ax.set(title="McNemar's test, every pair on the same test images: difference, and the "
                 "seeds with p < 0.05", xlabel="", ylabel="")
    ax.title.set_fontsize(9)
    ax.tick_params(axis="x", rotation=60, labelsize=8)
    ax.tick_params(axis="y", rotation=0, labelsize=8)
    return _save(fig, path)
