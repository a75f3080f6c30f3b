"""Figures written as PNG files."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def learning_curve(rows, path, title=""):
    """Training (online) and test (frozen) accuracy per epoch."""
    epochs = [r["epoch"] for r in rows]
    fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
    ax.plot(epochs, [100 * r["train_acc"] for r in rows], "o-", label="train (online, learning on)")
    ax.plot(epochs, [100 * r["test_acc"] for r in rows], "s-", label="test (frozen weights)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title, fontsize=9)
    fig.savefig(path, dpi=120)
    plt.close(fig)
