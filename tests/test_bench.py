"""The benchmark's own arithmetic (timings themselves are not tested: `make bench` reports them)."""

import numpy as np

from fer_keras.bench import model_flops, pandas_idiom
from fer_keras.data import load_csv
from fer_keras.models import create_model


def test_forward_flops_hand_counted():
    # ozer_cnn: 2 * (3*3*3*16*48*48 + 3*3*16*32*24*24 + 3*3*32*64*12*12 + 2304*128 + 128*7)
    assert model_flops(create_model("ozer_cnn")) == 2 * (995_328 + 2_654_208 + 2_654_208
                                                         + 294_912 + 896)
    # ozer_cnn_lstm convs: 2 * 9 * (1*32*46*46 + 32*64*21*21 + 64*128*8*8);
    # LSTM: 16 steps * 2 * 4 * (128 + 128) * 128; dense: 2 * (128*64 + 64*7)
    conv = 2 * 9 * (32 * 46 * 46 + 32 * 64 * 21 * 21 + 64 * 128 * 8 * 8)
    assert model_flops(create_model("ozer_cnn_lstm")) == (conv + 16 * 2 * 4 * 256 * 128
                                                          + 2 * (128 * 64 + 64 * 7))


def test_pandas_idiom_reads_the_same_pixels(sample):
    _, csv_path = sample
    ours = load_csv(csv_path, use_cache=False)
    idiom = pandas_idiom(csv_path)
    assert idiom.dtype == np.float32
    assert np.array_equal(idiom.astype(np.uint8).reshape(-1, 48, 48, 1), ours.images)
