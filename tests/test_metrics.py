import numpy as np
import pytest

from fer_keras.core.metrics import compute_metrics, expected_calibration_error

NAMES = ("a", "b", "c")
Y = np.array([0, 0, 1, 1, 2, 2])
P = np.array([
    [0.8, 0.1, 0.1],  # 0 -> 0
    [0.3, 0.6, 0.1],  # 0 -> 1
    [0.2, 0.7, 0.1],  # 1 -> 1
    [0.1, 0.8, 0.1],  # 1 -> 1
    [0.1, 0.2, 0.7],  # 2 -> 2
    [0.5, 0.2, 0.3],  # 2 -> 0
])


def test_hand_checked_values():
    m = compute_metrics(Y, P, NAMES)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # precision: a 1/2, b 2/3, c 1/1; recall: 1/2, 1, 1/2
    assert m["per_class"]["a"]["precision"] == pytest.approx(0.5)
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["precision_macro"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert m["recall_macro"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    f1 = [2 * 0.5 * 0.5 / 1.0, 2 * (2 / 3) / (5 / 3), 2 * 0.5 / 1.5]
    assert m["f1_macro"] == pytest.approx(np.mean(f1))
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # class c scores: positives 0.7, 0.3; negatives 0.1 x4 -> all pairs ranked right: AUC 1.0
    assert m["roc_auc"]["c"] == pytest.approx(1.0)
    # class a: positives 0.8, 0.3; negatives 0.2, 0.1, 0.1, 0.5: 0.8 beats all 4, 0.3 beats
    # 3 of them -> 7 of 8 pairs ranked right
    assert m["roc_auc"]["a"] == pytest.approx(7 / 8)
    assert m["roc_auc_macro"] == pytest.approx(np.mean(list(m["roc_auc"].values())))


def test_auc_is_none_for_a_class_absent_from_the_test_set():
    m = compute_metrics(np.array([0, 1, 0, 1]), np.tile([0.4, 0.4, 0.2], (4, 1)), NAMES)
    assert m["roc_auc"]["c"] is None


def test_ece_hand_checked():
    # two confidence bins: {0.9, 0.9} both right -> |1-0.9|; {0.6, 0.6} one right -> |0.5-0.6|
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    y = np.array([0, 0, 0, 1])
    assert expected_calibration_error(y, probs, bins=10) == pytest.approx(0.5 * 0.1 + 0.5 * 0.1)


def test_calibration_bins_hand_checked():
    from fer_keras.core.metrics import calibration_bins

    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    b = calibration_bins(np.array([0, 0, 0, 1]), probs, bins=10)
    assert b["count"].tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 2, 0]  # 0.6 -> (0.5, 0.6], 0.9
    assert b["accuracy"][5] == 0.5 and b["accuracy"][8] == 1.0
    assert b["confidence"][5] == pytest.approx(0.6) and np.isnan(b["accuracy"][0])
