import pytest

from fer_keras.core.labels import CLASS_NAMES, class_index


def test_canonical_order_is_the_challenge_csv_order():
    assert CLASS_NAMES == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@pytest.mark.parametrize("name,index", [
    ("angry", 0), ("Disgust", 1), ("FEAR", 2), ("happy", 3), ("sad", 4), ("surprise", 5),
    ("neutral", 6), ("happiness", 3), ("anger", 0), ("sadness", 4), ("surprised", 5),
    ("fearful", 2), (" Neutral ", 6), ("3", 3),
])
def test_folder_names_map_by_name_not_alphabet(name, index):
    assert class_index(name) == index


def test_alphabetical_position_is_not_used():
    # alphabetically neutral is 4th (index 4), sad 5th, surprise 6th; canonically 6, 4, 5
    assert [class_index(n) for n in ("neutral", "sad", "surprise")] == [6, 4, 5]


@pytest.mark.parametrize("name", ["contempt", "7", "", "happy2"])
def test_unknown_names_give_none(name):
    assert class_index(name) is None
